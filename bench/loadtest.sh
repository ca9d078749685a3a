#!/usr/bin/env bash
# loadtest.sh [CLIENTS] — the complaint desk under load, on loopback only:
#   1. the 6,046 corpus messages over HTTP, then over SMTP, then both at once
#      with a SIGKILL of the server a third of the way in, a restart, and a
#      check that every acknowledged report is stored;
#   2. 1,500 distinct corpus spam over HTTP into SQLite and into PostgreSQL
#      on the same machine (LOADTEST_STORES: which, default sqlite,postgres;
#      the CPU of serve and of the PostgreSQL server per report);
#   3. the anonymous form and the API flooded on the default limits (429s
#      counted); eight 24 MB uploads at once through the API, then the web
#      form, on SQLite, then PostgreSQL (the server's peak memory; every
#      upload read back byte for byte; one over the limit refused);
#   4. one, then two serve processes on one PostgreSQL behind HAProxy, and
#      two with one killed mid-load (clients retry with an Idempotency-Key):
#      every acknowledged report present and no other, the custody chain
#      verified, and the campaign count equal in every run (one instance,
#      two, two with a kill) and to grouping the stored reports by their
#      keys in memory in 30 random orders — or the run fails;
#      then one and two instances each capped at the same share of a CPU
#      (LOADTEST_CPU_CAP, default 0.25; a control group per instance, as
#      root; 0: not run), so that the second instance's gain is measured
#      where one instance is bound by its CPU, not by the machine's size.
# LOADTEST_RUNS picks the runs (channels,crash,stores,flood,uploads,instances).
# Prints tables. Starts its own PostgreSQL (ACCORD_PG_PORT, default 55432)
# and HAProxy; installs them from Debian when missing (as root).
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v haproxy >/dev/null || need+=(haproxy)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
corpus=$(bench/corpus.sh)
work=$(mktemp -d)
chmod 755 "$work"
trap 'tools/test/postgres.sh stop "$work/pg"; rm -rf "$work"' EXIT
bin=$work/accord
go build -o "$bin" ./cmd/accord
dsn=$(tools/test/postgres.sh start "$work/pg")
go run ./bench/loadtest -bin "$bin" -corpus "$corpus" -clients "${1:-8}" -dsn "$dsn" \
  -haproxy "$(command -v haproxy)" -runs "${LOADTEST_RUNS:-channels,crash,stores,flood,uploads,instances}" \
  -cap "${LOADTEST_CPU_CAP:-0.25}" -stores "${LOADTEST_STORES:-sqlite,postgres}"
