#!/usr/bin/env bash
# trace-vs-spamassassin.sh — compare Accord's origin.ip with the first
# untrusted relay SpamAssassin 4 reports (_RELAYSUNTRUSTED_), with the same
# trusted networks (loopback and private ranges), over the public corpus.
# Installs spamassassin from Debian when missing (needs root). Exits 1 when
# agreement is under MIN percent (default 97).
set -euo pipefail
cd "$(dirname "$0")/.."
MIN=${MIN:-97}
if ! perl -MMail::SpamAssassin -e1 2>/dev/null; then
  [ "$(id -u)" = 0 ] || { echo "trace-vs-spamassassin: install spamassassin (apt-get install spamassassin)" >&2; exit 1; }
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends spamassassin >/dev/null
fi
corpus=$(bench/corpus.sh)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
go build -o "$out/accord" ./cmd/accord
spamassassin --version | head -1
perl bench/sa-relays.pl "$corpus/index" > "$out/sa.tsv" 2>/dev/null
"$out/accord" check --json "$corpus/ham" "$corpus/spam" > "$out/verdicts.jsonl"
go run ./bench/corpusreport -min "$MIN" trace "$out/sa.tsv" "$out/verdicts.jsonl"
