#!/usr/bin/env bash
# rivals.sh FILTER PROTOCOL [INDEX] — run one rival spam filter over a
# TREC-style index with the TREC spam-track protocol and write its results
# ("<path> judge=… class=… score=…" lines) to $OUT/FILTER-PROTOCOL-ORDER.txt.
#
#   FILTER    bogofilter | spamprobe | spamassassin | rspamd | accord
#   PROTOCOL  online (score, then train on the gold label, in index order)
#             batch  (train on the first half, score the second half)
#
# Each run starts from an empty state folder. The filters run offline:
# their network tests are switched off and, as root with unshare(1), the
# whole run sits in a network namespace that has only loopback.
# Installs the filters from Debian when missing (as root).
set -euo pipefail
cd "$(dirname "$0")/.."
FILTER=$1
PROTOCOL=$2
INDEX=${3:-$(bench/corpus.sh)/index}
OUT=${OUT:-bench/out}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
ORDER=$(basename "$INDEX" | sed 's/^index\.\?//; s/^$/seed732/')
RESULTS="$OUT/$FILTER-$PROTOCOL-$ORDER.txt"
STATE=$(mktemp -d)
trap 'stop_filter; rm -rf "$STATE"' EXIT

# Installed before the run enters its network namespace, which has no
# route out.
pkgs=()
case $FILTER in
  bogofilter) command -v bogofilter >/dev/null || pkgs+=(bogofilter) ;;
  spamprobe) command -v spamprobe >/dev/null || pkgs+=(spamprobe) ;;
  spamassassin) command -v spamd >/dev/null || pkgs+=(spamassassin spamc spamd) ;;
  rspamd) { command -v rspamd && command -v redis-server; } >/dev/null || pkgs+=(rspamd redis-server curl) ;;
  accord) ;;
  *) echo "rivals.sh: unknown filter $FILTER" >&2; exit 2 ;;
esac
if [ ${#pkgs[@]} -gt 0 ]; then
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
fi

if [ "${ACCORD_IN_NETNS:-}" != 1 ] && [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
  # Re-run inside a fresh network namespace with only loopback.
  export ACCORD_IN_NETNS=1
  exec unshare --net -- bash -c 'ip link set lo up; exec "$0" "$@"' "$0" "$@"
fi

stop_filter() { :; }
# shellcheck source=/dev/null
. "bench/filters/$FILTER.sh"
start_filter

base=$(dirname "$INDEX")
mapfile -t lines < "$INDEX"
n=${#lines[@]}
half=$((n / 2))
: > "$RESULTS"
# A filter that fails to score a message answers "NA error": the line says
# class=error and the harness counts it; it is never scored as ham. The
# file ends with a "# complete" line only when the run finished, so a
# partial file is refused by the metrics.
failures=0
trainfail=0
emit() { # path label score class
  if [ "$4" = error ]; then failures=$((failures + 1)); fi
  echo "$1 judge=$2 class=$4 score=$3" >> "$RESULTS"
}
learn() { train "$@" || trainfail=$((trainfail + 1)); }
start=$(date +%s.%N)
if [ "$PROTOCOL" = batch ]; then
  for ((i = 0; i < half; i++)); do
    read -r label path <<<"${lines[$i]}"
    learn "$label" "$base/$path"
  done
  first=$half
else
  first=0
fi
for ((i = first; i < n; i++)); do
  read -r label path <<<"${lines[$i]}"
  read -r s c < <(score "$base/$path")
  emit "$path" "$label" "$s" "$c"
  if [ "$PROTOCOL" = online ]; then learn "$label" "$base/$path"; fi
done
end=$(date +%s.%N)
echo "# complete scored=$((n - first)) failures=$failures train_failures=$trainfail" >> "$RESULTS"
echo "$FILTER $PROTOCOL $ORDER: $n messages in $(echo "$end - $start" | bc) s, $failures scoring failures, $trainfail training failures -> $RESULTS" >&2
