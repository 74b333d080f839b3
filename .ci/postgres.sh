#!/usr/bin/env bash
# Starts a private PostgreSQL server for the test suite (a throw-away cluster under /tmp on
# port 55432, trust auth on loopback only) and exports SPLATPOD_TEST_DATABASE_URL.
# Sourced by test.sh; installs Debian's `postgresql` first where it is missing.
# Set SPLATPOD_TEST_DATABASE_URL yourself to use another server instead.

if [ -z "${SPLATPOD_TEST_DATABASE_URL:-}" ]; then
    if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
        echo "installing postgresql"
        if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
    fi
    PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    PG_DIR=${SPLATPOD_PG_DIR:-/tmp/splatpod-pg}
    PG_PORT=${SPLATPOD_PG_PORT:-55432}
    # PostgreSQL refuses to run as root: run it as the `postgres` user the package creates.
    if [ "$(id -u)" = 0 ]; then AS="runuser -u postgres --"; else AS=""; fi
    if ! $AS "$PG_BIN/pg_ctl" -D "$PG_DIR" status >/dev/null 2>&1; then
        rm -rf "$PG_DIR"
        mkdir -p "$PG_DIR"
        [ "$(id -u)" = 0 ] && chown postgres "$PG_DIR"
        $AS "$PG_BIN/initdb" -D "$PG_DIR" -U postgres --auth=trust -E UTF8 >/dev/null
        $AS "$PG_BIN/pg_ctl" -D "$PG_DIR" -l "$PG_DIR/server.log" -w \
            -o "-p $PG_PORT -k /tmp -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off" start >/dev/null
    fi
    psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='splatpod_test'" | grep -q 1 ||
        psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -qc "CREATE DATABASE splatpod_test"
    export SPLATPOD_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/splatpod_test"
    echo "PostgreSQL for tests: $SPLATPOD_TEST_DATABASE_URL"
fi
