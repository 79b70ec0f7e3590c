#!/bin/bash
# server.sh start DIR | db DIR NAME | restart DIR | stop DIR: a throwaway PostgreSQL 15 for the tests, in DIR, listening only
# on a unix socket in DIR; run as an unprivileged user (nobody when started by root). `start`
# prints the store URL of a fresh database "trail" (C collation, SQL_ASCII: bytes as SQLite
# keeps them); `db DIR NAME [ENCODING]` adds database NAME and prints its URL. Exit 77 when PostgreSQL is not
# installed. TRAIL_PG_FSYNC=on: a durable server (benchmarks), else fsync is off (tests).
set -euo pipefail
cmd=${1:?start|stop} dir=${2:?directory}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$bin/initdb" ] || { echo "PostgreSQL server binaries not installed" >&2; exit 77; }
as=()
if [ "$(id -u)" = 0 ]; then as=(runuser -u nobody --); fi
case $cmd in
start)
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown nobody "$dir"
    chmod 0700 "$dir"
    "${as[@]}" "$bin/initdb" -D "$dir/data" -U trail -E SQL_ASCII --locale=C --auth=trust \
        >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-k $dir -c listen_addresses='' -c fsync=${TRAIL_PG_FSYNC:-off} -c max_connections=60" start \
        >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
    "${as[@]}" "$bin/createdb" -h "$dir" -U trail trail
    echo "postgresql:///trail?host=$dir&user=trail"
    ;;
db)
    enc=()
    [ -n "${4:-}" ] && enc=(-E "$4" -T template0)
    "${as[@]}" "$bin/createdb" -h "$dir" -U trail "${enc[@]}" "${3:?name}"
    echo "postgresql:///$3?host=$dir&user=trail"
    ;;
restart) # -m fast: every session is ended, as a server crash or fail-over ends them
    "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 60 restart >/dev/null
    ;;
stop)
    [ -d "$dir/data" ] && "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    ;;
esac
