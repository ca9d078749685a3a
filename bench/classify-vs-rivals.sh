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
    # Reuse only a finished run (its file ends with the "# complete" line).
    if [ -z "${REUSE:-}" ] || ! tail -1 "$OUT/$f-$1-$3.txt" 2>/dev/null | grep -q '^# complete '; then
      OUT=$OUT bench/rivals.sh "$f" "$1" "$corpus/$2" 2>>"$OUT/rivals.log"
    fi
    runs+=("$f $1 $3=$OUT/$f-$1-$3.txt")
  done
done

# Speed through the same kind of client: Accord too, one process per
# message through the harness's loop, as the command-line rivals run.
if [ -z "${REUSE:-}" ] || ! tail -1 "$OUT/accord-cli-batch-seed732.txt" 2>/dev/null | grep -q '^# complete '; then
  ACCORD_BIN=$OUT/accord OUT=$OUT bench/rivals.sh accord batch "$corpus/index" 2>>"$OUT/rivals.log"
  mv "$OUT/accord-batch-seed732.txt" "$OUT/accord-cli-batch-seed732.txt"
fi
runs+=("accord-cli batch seed732=$OUT/accord-cli-batch-seed732.txt")

echo "## Quality (SpamAssassin public corpus, 6,046 messages)"
echo
echo "Failures: messages a filter failed to score / training calls that failed (left out of the measures, never scored as ham)."
echo
args=()
for r in "${runs[@]}"; do args+=("${r// /_}"); done
go run ./bench/trecmetrics "${args[@]}"

echo
echo "## Speed through the same client"
echo
echo "Batch protocol (3,023 messages learned, then 3,023 scored), one process per"
echo "message through the harness's loop for every filter, Accord included (its"
echo "model file is read and, for learning, written each time). Daemons pay their"
echo "client (spamc, curl) too. The daemons through their own protocol with the"
echo "same client for each: bench/filter-vs-rspamd.sh."
echo
printf '| filter | messages/s (batch, learn + score) | vs Accord |\n|---|---|---|\n'
acc=$(awk '/^accord batch seed732:/ {print 6046/$7}' "$OUT/rivals.log" | tail -1)
for f in accord $FILTERS; do
  r=$(awk -v f="$f" '$1 == f && $2 == "batch" && $3 == "seed732:" {print 6046/$7}' "$OUT/rivals.log" | tail -1)
  [ -z "$r" ] && continue
  name=$f; [ "$f" = accord ] && name="accord (accord score / accord learn per message)"
  printf '| %s | %.1f | %s |\n' "$name" "$r" "$(awk -v a="$acc" -v b="$r" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "–" }')"
done
echo
echo "## In-process speed (not the same client: for the library's own cost)"
echo
bench=$(ACCORD_CORPUS=$corpus go test -run XXX -bench OnlineCorpus -benchtime 3x -cpu 1 ./internal/classify/ | awk '/msg\/s/ {for (i=1;i<=NF;i++) if ($(i)=="msg/s") print $(i-1)}')
bstate=$(mktemp -d)
find "$corpus/spam" -type f -print0 | xargs -0 bogofilter -C -d "$bstate" -s -B
find "$corpus/ham" -type f -print0 | xargs -0 bogofilter -C -d "$bstate" -n -B
t0=$(date +%s.%N)
# bogofilter exits 1 or 2 for ham and unsure messages, so xargs reports failure.
find "$corpus/ham" "$corpus/spam" -type f -print0 | xargs -0 bogofilter -C -d "$bstate" -B > /dev/null || true
t1=$(date +%s.%N)
rm -rf "$bstate"
bogo_bulk=$(echo "6046 / ($t1 - $t0)" | bc -l)
printf '| filter | messages/s |\n|---|---|\n'
printf '| Accord (go test -bench OnlineCorpus -cpu 1: parse, score and learn, one process) | %.0f |\n' "$bench"
printf '| bogofilter -B bulk scoring only, one process | %.0f |\n' "$bogo_bulk"
