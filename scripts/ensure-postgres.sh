#!/usr/bin/env bash
# Make sure the PostgreSQL named by CICATRIX_TEST_POSTGRES_URL answers. On a machine with
# no server, install Debian's postgresql and start a throwaway cluster on that port.
set -euo pipefail
url="${CICATRIX_TEST_POSTGRES_URL:-}"
[ -n "$url" ] || exit 0
port=$(python3 -c "from urllib.parse import urlparse; print(urlparse('$url'.replace('+psycopg','')).port or 5432)")
if pg_isready -q -h 127.0.0.1 -p "$port" 2>/dev/null; then exit 0; fi
if ! command -v pg_ctlcluster >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "installing Debian's postgresql ..." >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
if ls /etc/postgresql/*/main >/dev/null 2>&1; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
fi
if ! pg_isready -q -h 127.0.0.1 -p "$port" 2>/dev/null; then
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  dir=$(mktemp -d /tmp/cicatrix-pg.XXXXXX); chown postgres "$dir"
  su postgres -c "$bin/initdb -D $dir/data -A trust -U postgres" >/dev/null
  su postgres -c "$bin/pg_ctl -D $dir/data -o '-p $port -k $dir -c listen_addresses=127.0.0.1' -l $dir/log start" >/dev/null
  for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 -p "$port" && break; sleep 1; done
  su postgres -c "psql -h 127.0.0.1 -p $port -c 'CREATE DATABASE test'" >/dev/null 2>&1 || true
fi
pg_isready -h 127.0.0.1 -p "$port"
