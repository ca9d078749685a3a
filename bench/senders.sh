#!/usr/bin/env bash
# senders.sh — label verification and one-click opt-out handling on one
# core (GOMAXPROCS=1), as a table of operations per second.
#
#   label, first sight      parse, Ed25519 signature, body hash, DKIM binding, status list of 1,000 revocations
#   label, campaign repeat  the same label again (signature cache): every message of a campaign after the first
#   label, forged           refused at the signature
#   one-click opt-out       POST /u/TOKEN through the node's routes into SQLite (synchronous commit), new recipient each time
#   forged opt-out token    refused by the token's MAC, no database read
#
# The machine's load average is printed with the table: figures on a
# shared machine are lower bounds.
set -euo pipefail
cd "$(dirname "$0")/.."
BENCHTIME=${BENCHTIME:-3s}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
go test -run '^$' -bench 'Verify' -benchtime "$BENCHTIME" -cpu 1 ./internal/label/ >>"$out"
go test -run '^$' -bench 'OneClick' -benchtime "$BENCHTIME" -cpu 1 ./internal/web/ >>"$out"
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
