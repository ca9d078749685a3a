# spamprobe 1.4d with its defaults; "spam"/"good" train on every message.
# Its first output field is SPAM or GOOD (threshold 0.7), the second the score.
start_filter() { :; }
score() {
  local out
  out=$(spamprobe -d "$STATE" score "$1" 2>/dev/null) || true
  set -- $out
  local s=${2:-0.5}
  if [ "${1:-}" = SPAM ]; then echo "$s spam"; else echo "$s ham"; fi
}
train() {
  if [ "$1" = spam ]; then spamprobe -d "$STATE" spam "$2"; else spamprobe -d "$STATE" good "$2"; fi
}
