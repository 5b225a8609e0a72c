#!/bin/sh
# pg_server.sh start|halt|resume|stop DIR - a throwaway PostgreSQL server for
# the store tests, in DIR (under /tmp, at most 90 characters: the unix socket
# lives there), on 127.0.0.1 on a free port, trust authentication, user
# "postgres".  Debian's postgresql package, no cluster tooling.
#   start:  initdb, start, wait until ready; prints the libpq URI (also DIR/uri)
#   halt:   pg_ctl stop -m fast (the data stays; connections are cut)
#   resume: start again on the same port
#   stop:   halt and remove DIR (only a DIR that start made)
# PostgreSQL refuses to run as root: as root, initdb and pg_ctl run as
# PG_OS_USER (default nobody) through runuser, and DIR is chowned to it.
set -eu
CMD=${1:?usage: pg_server.sh start|halt|resume|stop DIR}
DIR=${2:?usage: pg_server.sh start|halt|resume|stop DIR}
PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
OSUSER=${PG_OS_USER:-nobody}
die() { echo "pg_server.sh: $*" >&2; exit 1; }
[ -n "$PGBIN" ] && [ -x "$PGBIN/initdb" ] ||
    die "no initdb under /usr/lib/postgresql/*/bin: apt-get install postgresql"
if [ "$(id -u)" = 0 ]; then
    as_user() { (cd "$DIR" && runuser -u "$OSUSER" -- "$@"); }
else
    as_user() { (cd "$DIR" && "$@"); }
fi

ready() {
    "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" -t 1 &&
        [ "$(sed -n 4p "$DIR/data/postmaster.pid" 2>/dev/null)" = "$PORT" ] &&
        sed -n 8p "$DIR/data/postmaster.pid" 2>/dev/null | grep -q '^ready'
}

# start the postmaster on $PORT; 0 when ready, 1 when the port was taken
launch() {
    : > "$DIR/server.log"
    [ "$(id -u)" != 0 ] || chown "$OSUSER:" "$DIR/server.log"
    as_user "$PGBIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -o "-p $PORT" -W start >/dev/null
    i=0
    while [ $i -lt 1500 ]; do
        ready && return 0
        # clients connecting early get FATAL "starting up": only a lost port ends the wait
        grep -q 'could not bind' "$DIR/server.log" && break
        sleep 0.02; i=$((i + 1))
    done
    i=0; while [ -f "$DIR/data/postmaster.pid" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    grep -q 'could not bind' "$DIR/server.log" && return 1
    cat "$DIR/server.log" >&2
    die "server did not become ready on port $PORT"
}

halt() {
    [ -f "$DIR/data/postmaster.pid" ] || return 0
    as_user "$PGBIN/pg_ctl" -D "$DIR/data" stop -m fast -w -t 30 >/dev/null
}

case $CMD in
start)
    mkdir -p "$DIR"
    DIR=$(cd "$DIR" && pwd)
    [ ${#DIR} -le 90 ] || die "DIR too long for a unix socket"
    [ ! -e "$DIR/data" ] || die "$DIR/data exists"
    touch "$DIR/.pg_server"
    if [ "$(id -u)" = 0 ]; then chown "$OSUSER:" "$DIR"; fi
    chmod 700 "$DIR"
    as_user "$PGBIN/initdb" -D "$DIR/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 -N \
        > "$DIR/initdb.log" 2>&1 || die "initdb failed: $(tail -n 3 "$DIR/initdb.log")"
    cat >> "$DIR/data/postgresql.conf" <<C
listen_addresses = '127.0.0.1'
unix_socket_directories = '$DIR'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 60
C
    tries=0
    while :; do
        tries=$((tries + 1))
        PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
        if launch; then break; fi
        [ $tries -lt 5 ] || die "no free port after 5 tries"
    done
    echo "$PORT" > "$DIR/port"
    echo "postgresql://postgres@127.0.0.1:$PORT/postgres" > "$DIR/uri"
    cat "$DIR/uri"
    ;;
halt)
    halt
    ;;
resume)
    PORT=$(cat "$DIR/port")
    launch || die "port $PORT taken while the server was down"
    ;;
stop)
    [ -d "$DIR" ] || exit 0
    [ -f "$DIR/.pg_server" ] || die "$DIR was not made by pg_server.sh start"
    halt || true
    rm -rf "$DIR"
    ;;
*)
    die "unknown command $CMD"
    ;;
esac
