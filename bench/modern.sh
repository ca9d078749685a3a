#!/usr/bin/env bash
# modern.sh [DIR] — trace-back and authentication on real 2022–2026 mail,
# checked against the final receiving provider's own record.
#
# DIR holds real delivered messages (*.eml). The truth is the record the
# final receiver wrote of the connection it accepted, read only from the
# field that provider writes (bench/modernreport/record): Microsoft 365's
# "sender IP is X" (or X-Sender-IP) when Microsoft delivered the message,
# Gmail's Received-SPF client-ip when Gmail did; a record a forwarder wrote
# further down is not used. Default: $ACCORD_MODERN_SAMPLES, else
# ../shared/samples/modern beside the repository (not part of it: the
# samples are CC BY-NC and read in place). Runs `accord check --json` with
# default settings and prints, by provider, the agreement of origin.ip with
# that record, and of SPF and DMARC with the provider's results — which an
# offline Accord reads from that same field, so that agreement compares two
# readers of one field, not two checks. Exits 1 below MIN_ORIGIN (97) or
# MIN_AUTH (95) %.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:-${ACCORD_MODERN_SAMPLES:-../shared/samples/modern}}
[ -d "$DIR" ] || { echo "modern.sh: no sample folder $DIR" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
go build -o "$out/accord" ./cmd/accord
"$out/accord" check --json "$DIR" > "$out/verdicts.jsonl"
go run ./bench/modernreport -min-origin "${MIN_ORIGIN:-97}" -min-auth "${MIN_AUTH:-95}" "$DIR" "$out/verdicts.jsonl"
