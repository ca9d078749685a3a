#!/usr/bin/env bash
# bench/engine-speed.sh [BASE] — the engine's analysis speed on one core,
# this checkout beside an older revision, in one run on one machine.
#
# Both test binaries run BenchmarkAnalyzeCorpus (parse + whole Verdict,
# offline resolver) over the public corpus with -cpu 1, alternating base
# and head ROUNDS times so that a change in the machine's load hits both
# alike. Prints one row per round, the medians and head/base.
#
# BASE defaults to d08e9ac, the engine before the trust-boundary,
# authentication and legal-status work. Env: ROUNDS (5), BENCHTIME (3000x).
set -euo pipefail
cd "$(dirname "$0")/.."
base=${1:-d08e9ac}
rounds=${ROUNDS:-5}
benchtime=${BENCHTIME:-3000x}
ACCORD_CORPUS=$(bench/corpus.sh)
export ACCORD_CORPUS

tmp=$(mktemp -d)
cleanup() { git worktree remove --force "$tmp/base" >/dev/null 2>&1 || true; rm -rf "$tmp"; }
trap cleanup EXIT
git worktree add -q --detach "$tmp/base" "$base"
(cd "$tmp/base" && go test -c -o "$tmp/base.test" ./internal/analysis/)
go test -c -o "$tmp/head.test" ./internal/analysis/

run() { # dir binary → msg/s
  (cd "$1/internal/analysis" && "$2" -test.run '^$' -test.bench '^BenchmarkAnalyzeCorpus$' \
    -test.cpu 1 -test.benchtime "$benchtime") |
    awk '/^BenchmarkAnalyzeCorpus/ { for (i = 1; i < NF; i++) if ($(i+1) == "msg/s") print $i }'
}

echo "analysis on one core: $base against $(git rev-parse --short HEAD), $benchtime per run, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| round | $base msg/s | head msg/s | head/base |"
echo "|---|---|---|---|"
: >"$tmp/b"; : >"$tmp/h"
for r in $(seq 1 "$rounds"); do
  b=$(run "$tmp/base" "$tmp/base.test"); h=$(run "$PWD" "$tmp/head.test")
  [ -n "$b" ] && [ -n "$h" ] || { echo "a benchmark run failed" >&2; exit 1; }
  echo "$b" >>"$tmp/b"; echo "$h" >>"$tmp/h"
  awk -v r="$r" -v b="$b" -v h="$h" 'BEGIN { printf "| %d | %.0f | %.0f | %.2f |\n", r, b, h, h/b }'
done
med() { sort -g "$1" | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2 }'; }
mb=$(med "$tmp/b"); mh=$(med "$tmp/h")
awk -v b="$mb" -v h="$mh" 'BEGIN { printf "| median | %.0f | %.0f | %.2f |\n", b, h, h/b }'
echo
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
