# bogofilter 1.2.5 with compiled defaults (-C: no config files). score
# prints "SCORE CLASS"; the class is spam at bogofilter's spam_cutoff 0.99.
# Before the first training there is no wordlist and bogofilter refuses to
# score: the answer is then 0.5.
start_filter() { :; }
score() {
  local s
  s=$(bogofilter -C -d "$STATE" -TT < "$1" 2>/dev/null) || true
  s=${s:-0.5}
  if awk -v s="$s" 'BEGIN { exit !(s >= 0.99) }'; then echo "$s spam"; else echo "$s ham"; fi
}
train() {
  if [ "$1" = spam ]; then bogofilter -C -d "$STATE" -s < "$2"; else bogofilter -C -d "$STATE" -n < "$2"; fi
}
