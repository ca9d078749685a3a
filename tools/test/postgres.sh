#!/usr/bin/env bash
# tools/test/postgres.sh start|stop DIR — a throwaway PostgreSQL for the
# store conformance tests: Debian's server binaries, a fresh cluster in DIR,
# listening on 127.0.0.1 only. `start` prints the DSN on standard output.
# Run as root, the server runs as the postgres user, who must be able to
# reach DIR (its parent directories need the x permission).
set -euo pipefail
cmd=${1:?start or stop}
dir=${2:?directory}
port=${ACCORD_PG_PORT:-55432}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ -z "$bin" ]; then
  echo "postgres.sh: PostgreSQL server binaries not found (apt-get install postgresql)" >&2
  exit 1
fi
as=()
if [ "$(id -u)" = 0 ]; then
  # initdb refuses to run as root.
  as=(runuser -u postgres --)
fi
case $cmd in
start)
  mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown postgres "$dir"
  "${as[@]}" "$bin/initdb" -D "$dir/data" -U accord --auth=trust -E UTF8 >"$dir/initdb.log" 2>&1
  "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir" start >/dev/null
  "${as[@]}" "$bin/createdb" -h 127.0.0.1 -p "$port" -U accord accord
  echo "postgres://accord@127.0.0.1:$port/accord?sslmode=disable"
  ;;
stop)
  "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
  ;;
esac
