#!/usr/bin/env bash
# loadtest.sh [CLIENTS] — the complaint desk under load, on loopback only:
# the 6,046 corpus messages over HTTP, then over SMTP, then both at once
# with a SIGKILL of the server a third of the way in, a restart, and a check
# that every acknowledged report is stored. Prints a table.
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=$(bench/corpus.sh)
bin=$(mktemp -d)/accord
trap 'rm -rf "$(dirname "$bin")"' EXIT
go build -o "$bin" ./cmd/accord
go run ./bench/loadtest -bin "$bin" -corpus "$corpus" -clients "${1:-8}"
