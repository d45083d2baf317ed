#!/usr/bin/env bash
# Start a throwaway PostgreSQL server on 127.0.0.1 for the block-store tests.
# Prints `export LAUNCHBAY_TEST_POSTGRES_URL=...` on stdout; progress on stderr.
set -euo pipefail
PORT=${LAUNCHBAY_TEST_PG_PORT:-54329}
DATA=${LAUNCHBAY_TEST_PG_DATA:-/var/lib/launchbay-test/postgres}
log() { echo "[postgres] $*" >&2; }
source "$(dirname "$0")/lib.sh"  # apt_install

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)
if [ -z "$bindir" ] || [ ! -x "$bindir/pg_ctl" ]; then
  apt_install postgresql
  bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
fi
id postgres >/dev/null 2>&1 || useradd --system --home /var/lib/postgresql postgres

as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

if ! as_pg "$bindir/pg_isready" -q -h 127.0.0.1 -p "$PORT"; then
  if [ ! -f "$DATA/PG_VERSION" ]; then
    log "initdb $DATA"
    mkdir -p "$DATA"; chown postgres "$DATA" 2>/dev/null || true; chmod 700 "$DATA"
    as_pg "$bindir/initdb" -D "$DATA" -U postgres --auth=trust >/dev/null
  fi
  log "starting on 127.0.0.1:$PORT"
  as_pg "$bindir/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w -t 60 \
    -o "-p $PORT -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off" start >&2 \
    || { tail -n 30 "$DATA/server.log" >&2; exit 1; }
fi
as_pg "$bindir/psql" -h 127.0.0.1 -p "$PORT" -U postgres -tAc \
  "SELECT 1 FROM pg_database WHERE datname='launchbay_test'" | grep -q 1 \
  || as_pg "$bindir/createdb" -h 127.0.0.1 -p "$PORT" -U postgres launchbay_test
log "ready"
echo "export LAUNCHBAY_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:$PORT/launchbay_test"
