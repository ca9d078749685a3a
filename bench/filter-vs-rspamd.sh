#!/usr/bin/env bash
# filter-vs-rspamd.sh — the filter's speed beside rspamd's, in one run, on
# the same corpus, machine and cores, through the same kind of client:
#
#   rspamd 3.x (Debian) with Bayes in redis, /checkv2      (bench/filterload -proto http)
#   Accord's rspamd-compatible door, /checkv2               (the same client)
#   Accord's milter door                                    (bench/filterload -proto milter)
#
# Each filter first learns the first half of the public corpus (its own
# learning endpoint), then the second half is sent by CLIENTS concurrent
# clients (default 8), each keeping one connection. rspamd runs with one
# normal worker per core (RS_COUNT, default nproc), network checks off
# (as in bench/rivals.sh); both run offline in a network namespace with
# only loopback when run as root. Prints one Markdown table: messages per
# second, p50 and p99 latency, failures (every failure counted, none
# scored), and Accord's throughput as a multiple of rspamd's.
set -euo pipefail
cd "$(dirname "$0")/.."
# Installed before the run enters its network namespace, which has no
# route out.
{ command -v rspamd && command -v redis-server; } >/dev/null || { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends rspamd redis-server >/dev/null; }
if [ "${ACCORD_IN_NETNS:-}" != 1 ] && [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
  export ACCORD_IN_NETNS=1
  exec unshare --net -- bash -c 'ip link set lo up; exec "$0" "$@"' "$0" "$@"
fi
CLIENTS=${CLIENTS:-8}
LEARN=${LEARN:-}   # messages learned first (default: the first half of the corpus)
N=${N:-}           # messages sent (default: the second half)
export RS_COUNT=${RS_COUNT:-$(nproc)}
OUT=${OUT:-bench/out/filter}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
corpus=$(bench/corpus.sh)
n=$(wc -l < "$corpus/index")
half=$((n / 2))
LEARN=${LEARN:-$half}
N=${N:-$((n - half))}
go build -o "$OUT/accord" ./cmd/accord
go build -o "$OUT/filterload" ./bench/filterload
load() { "$OUT/filterload" "$@" "$corpus/index" | tee -a "$OUT/runs.log"; }
: > "$OUT/runs.log"

STATE=$(mktemp -d)
ACC=$(mktemp -d)
apid=
cleanup() { stop_filter 2>/dev/null || true; [ -n "$apid" ] && kill "$apid" 2>/dev/null; rm -rf "$STATE" "$ACC"; }
trap cleanup EXIT

# rspamd
# shellcheck source=/dev/null
. bench/filters/rspamd.sh
start_filter
echo "rspamd $(rspamd --version 2>/dev/null | head -1), $RS_COUNT normal workers, redis $(redis-server --version | awk '{print $3}')" | tee -a "$OUT/runs.log"
load -proto learn -addr "127.0.0.1:$RS_CTL" -c 2 -n "$LEARN" >/dev/null
rs=$(load -proto http -addr "127.0.0.1:$RS_PORT" -c "$CLIENTS" -from "$half" -n "$N" || true)
rs_cpu=$(ps -o cputimes= -C rspamd | awk '{s+=$1} END {print s}')
stop_filter

# Accord, its spam tagged as rspamd's "add header" does (holding it in the
# quarantine writes each held message to the database: a provider's cost,
# but not rspamd's, which keeps nothing).
"$OUT/accord" init --data "$ACC" >/dev/null
"$OUT/accord" policy set --data "$ACC" default --quarantine 0 >/dev/null
"$OUT/accord" serve --data "$ACC" --http 127.0.0.1:0 --smtp 127.0.0.1:0 --rspamd 127.0.0.1:21433 --milter 127.0.0.1:21432 > "$ACC/serve.log" 2>&1 &
apid=$!
for _ in $(seq 1 100); do curl -s http://127.0.0.1:21433/ping | grep -q pong && break; sleep 0.1; done
load -proto learn -addr 127.0.0.1:21433 -c 2 -n "$LEARN" >/dev/null
ac=$(load -proto http -addr 127.0.0.1:21433 -c "$CLIENTS" -from "$half" -n "$N" || true)
am=$(load -proto milter -addr 127.0.0.1:21432 -c "$CLIENTS" -from "$half" -n "$N" || true)
kill "$apid"; wait "$apid" 2>/dev/null || true; apid=

field() { echo "$1" | tr ' ' '\n' | awk -F= -v k="$2" '$1 == k {print $2}'; }
row() { # name line
  printf '| %s | %s | %s | %s | %s | %s |\n' "$1" "$(field "$2" msg/s)" "$(field "$2" p50_ms)" "$(field "$2" p99_ms)" "$(field "$2" failed)" "$3"
}
rsr=$(field "$rs" msg/s)
ratio() { awk -v a="$(field "$1" msg/s)" -v b="$rsr" 'BEGIN { if (b > 0) printf "%.1f×", a / b; else print "–" }'; }
echo
echo "## Filter speed: $N messages of the public corpus (after $LEARN learned), $CLIENTS clients, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| filter and door | messages/s | p50 ms | p99 ms | failures | vs rspamd |"
echo "|---|---|---|---|---|---|"
row "rspamd /checkv2 (Bayes, redis)" "$rs" "1×"
row "Accord /checkv2" "$ac" "$(ratio "$ac")"
row "Accord milter" "$am" "$(ratio "$am")"
echo
echo "Raw lines in $OUT/runs.log."
