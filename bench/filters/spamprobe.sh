# spamprobe 1.4d with its defaults; "spam"/"good" train on every message.
# Its first output field is SPAM or GOOD (threshold 0.7), the second the score.
start_filter() { :; }
score() {
  local out
  if [ -z "$(ls -A "$STATE")" ]; then echo "0.5 ham"; return; fi # nothing learned yet
  out=$(spamprobe -d "$STATE" score "$1" 2>/dev/null) || { echo "NA error"; return; }
  set -- $out
  if ! [[ "${2:-}" =~ ^[0-9.e+-]+$ ]]; then echo "NA error"; return; fi
  if [ "${1:-}" = SPAM ]; then echo "$2 spam"; else echo "$2 ham"; fi
}
train() {
  if [ "$1" = spam ]; then spamprobe -d "$STATE" spam "$2"; else spamprobe -d "$STATE" good "$2"; fi
}
