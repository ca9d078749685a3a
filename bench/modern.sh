#!/usr/bin/env bash
# modern.sh [DIR] — trace-back and authentication on real 2022–2026 mail,
# checked against the receiving provider's own record.
#
# DIR holds real delivered messages (*.eml), each with the receiving
# provider's record of the connection it accepted ("sender IP is X" in its
# Authentication-Results, or X-Sender-IP). Default: $ACCORD_MODERN_SAMPLES,
# else ../shared/samples/modern beside the repository (not part of it: the
# samples are CC BY-NC and read in place). Runs `accord check --json` with
# default settings and prints the agreement of origin.ip, SPF and DMARC with
# the provider's record; exits 1 below MIN_ORIGIN (97) or MIN_AUTH (95) %.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:-${ACCORD_MODERN_SAMPLES:-../shared/samples/modern}}
[ -d "$DIR" ] || { echo "modern.sh: no sample folder $DIR" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
go build -o "$out/accord" ./cmd/accord
"$out/accord" check --json "$DIR" > "$out/verdicts.jsonl"
go run ./bench/modernreport -min-origin "${MIN_ORIGIN:-97}" -min-auth "${MIN_AUTH:-95}" "$DIR" "$out/verdicts.jsonl"
