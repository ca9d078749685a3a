#!/usr/bin/env bash
# classify-vs-rivals.sh — Accord's classifier against bogofilter, spamprobe,
# SpamAssassin 4 (Bayes + local rules, network tests off) and rspamd 3.4
# (Bayes in redis), side by side on the public SpamAssassin corpus: the same
# messages, the same orders, the same TREC protocols.
#
#   online  seed-732 order and chronological order (Date header), every
#           message scored and then trained on its label, from empty;
#   batch   train on the first half of the seed order, score the second.
#
# Prints one Markdown table of the measures and one of the speeds.
# FILTERS selects rivals (default: all four); the SpamAssassin runs take
# most of the time (about 20-40 minutes each on 2 cores). Results land in
# $OUT (default bench/out/classify); REUSE=1 keeps rival results already
# there (complete files only) instead of running those rivals again.
set -euo pipefail
cd "$(dirname "$0")/.."
FILTERS=${FILTERS:-bogofilter spamprobe spamassassin rspamd}
OUT=${OUT:-bench/out/classify}
mkdir -p "$OUT"
corpus=$(bench/corpus.sh)
[ -f "$corpus/index.chrono" ] || go run ./bench/chronoindex "$corpus/index" > "$corpus/index.chrono"
go build -o "$OUT/accord" ./cmd/accord

runs=()
for spec in "online index seed732" "batch index seed732" "online index.chrono chrono"; do
  set -- $spec
  "$OUT/accord" eval --index "$corpus/$2" --protocol "$1" --results "$OUT/accord-$1-$3.txt" > "$OUT/accord-$1-$3.summary"
  runs+=("accord $1 $3=$OUT/accord-$1-$3.txt")
  for f in $FILTERS; do
    if [ -z "${REUSE:-}" ] || [ "$(wc -l < "$OUT/$f-$1-$3.txt" 2>/dev/null || echo 0)" -lt 3023 ]; then
      OUT=$OUT bench/rivals.sh "$f" "$1" "$corpus/$2" 2>>"$OUT/rivals.log"
    fi
    runs+=("$f $1 $3=$OUT/$f-$1-$3.txt")
  done
done

echo "## Quality (SpamAssassin public corpus, 6,046 messages)"
echo
args=()
for r in "${runs[@]}"; do args+=("${r// /_}"); done
go run ./bench/trecmetrics "${args[@]}"

echo
echo "## Speed on one core (parse + score + learn, online protocol)"
echo
bench=$(ACCORD_CORPUS=$corpus go test -run XXX -bench OnlineCorpus -benchtime 3x -cpu 1 ./internal/classify/ | awk '/msg\/s/ {for (i=1;i<=NF;i++) if ($(i)=="msg/s") print $(i-1)}')
# bogofilter in the same run: its per-message jig (two processes per
# message, as in the quality runs) and its bulk classifier (one process,
# every message scored against a wordlist trained on the corpus).
bogo_jig=$(awk '/bogofilter online seed732/ {print 6046/$(NF-3)}' "$OUT/rivals.log" | tail -1)
bstate=$(mktemp -d)
find "$corpus/spam" -type f -print0 | xargs -0 bogofilter -C -d "$bstate" -s -B
find "$corpus/ham" -type f -print0 | xargs -0 bogofilter -C -d "$bstate" -n -B
t0=$(date +%s.%N)
# bogofilter exits 1 or 2 for ham and unsure messages, so xargs reports failure.
find "$corpus/ham" "$corpus/spam" -type f -print0 | xargs -0 bogofilter -C -d "$bstate" -B > /dev/null || true
t1=$(date +%s.%N)
rm -rf "$bstate"
bogo_bulk=$(echo "6046 / ($t1 - $t0)" | bc -l)
printf '| filter | messages/s | Accord ratio |\n|---|---|---|\n'
printf '| Accord (go test -bench OnlineCorpus -cpu 1: parse, score and learn) | %.0f | 1 |\n' "$bench"
[ -n "$bogo_jig" ] && printf '| bogofilter, per-message score + train (TREC jig) | %.0f | %.0f× |\n' "$bogo_jig" "$(echo "$bench / $bogo_jig" | bc -l)"
printf '| bogofilter -B bulk scoring only, one process | %.0f | %.1f× |\n' "$bogo_bulk" "$(echo "$bench / $bogo_bulk" | bc -l)"
