#!/usr/bin/env bash
# senders.sh — label verification and one-click opt-out handling on one
# core (GOMAXPROCS=1), as a table of operations per second.
#
#   label, first sight      parse, Ed25519 signature, body hash, header hash, binding to the DKIM
#                           result, status list of 1,000 revocations. The DKIM result is given
#                           ("pass"), as the analysis hands it over: the DKIM verification itself
#                           (a DNS lookup, an RSA or Ed25519 check) is NOT included
#   label, campaign repeat  the same label again (signature cache): every message of a campaign after the first
#   label, forged           refused at the signature
#   one-click opt-out       POST /u/TOKEN through the node's routes into SQLite (synchronous commit), new recipient
#                           each time; the public rate limit is raised out of the way, so this is the handler's
#                           speed, not what one client is allowed
#   forged opt-out token    refused by the token's MAC, no database read
#
# A benchmark that fails (each checks its outcome) or a row that is
# missing stops the script with the go test output and a non-zero exit.
# The machine's load average is printed with the table: figures on a
# shared machine are lower bounds.
set -euo pipefail
cd "$(dirname "$0")/.."
BENCHTIME=${BENCHTIME:-3s}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
run() {
  if ! go test -run '^$' -bench "$1" -benchtime "$BENCHTIME" -cpu 1 "$2" >>"$out" 2>&1; then
    echo "senders.sh: the benchmarks $1 in $2 failed:" >&2
    cat "$out" >&2
    exit 1
  fi
}
run 'Verify' ./internal/label/
run 'OneClick' ./internal/web/
for b in BenchmarkVerify BenchmarkVerifyCampaign BenchmarkVerifyForged BenchmarkOneClick BenchmarkOneClickForged; do
  if ! grep -q "^$b " "$out"; then
    echo "senders.sh: no result for $b (renamed or skipped?):" >&2
    cat "$out" >&2
    exit 1
  fi
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
printf '%-26s %14s %12s\n' "operation" "per second" "µs each"
awk '
  /^BenchmarkVerify /         {n="label, first sight"}
  /^BenchmarkVerifyCampaign / {n="label, campaign repeat"}
  /^BenchmarkVerifyForged /   {n="label, forged"}
  /^BenchmarkOneClick /       {n="one-click opt-out"}
  /^BenchmarkOneClickForged / {n="forged opt-out token"}
  /^Benchmark/ {
    for (i = 1; i <= NF; i++) if ($i == "ns/op") ns = $(i-1)
    printf "%-26s %14.0f %12.1f\n", n, 1e9/ns, ns/1000
  }' "$out"
