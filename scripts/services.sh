#!/usr/bin/env bash
# Ensure PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) are up, then
# ensure role harvestplus and each database named on the command line.
# Idempotent: services already answering are left alone.
#   scripts/services.sh harvestplus_test harvestplus_demo
set -euo pipefail

ROLE=harvestplus
PASSWORD=harvestplus
WAIT_SECONDS=30

die() { echo "services.sh: $*" >&2; exit 1; }
say() { echo "services.sh: $*"; }

# /dev/tcp fallback so the probes work before the clients are installed.
tcp_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pg_up() {
    if command -v pg_isready >/dev/null; then pg_isready -q -h 127.0.0.1 -p 5432
    else tcp_open 5432; fi
}
redis_up() {
    if command -v redis-cli >/dev/null; then
        [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = PONG ]
    else tcp_open 6379; fi
}

wait_for() {  # name probe-function log-hint
    local i
    for ((i = 0; i < WAIT_SECONDS; i++)); do
        "$2" && return 0
        sleep 1
    done
    die "$1 did not answer on 127.0.0.1 within ${WAIT_SECONDS}s; see $3"
}

apt_install() {
    [ "$(id -u)" = 0 ] || die "$* not installed and not root: install them (Debian: apt-get install $*)"
    say "installing $*"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@"
}

pg_version() { ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1; }

start_postgres() {
    pg_up && return 0
    if [ -z "$(pg_version)" ] || ! command -v pg_ctlcluster >/dev/null; then
        apt_install postgresql
        pg_up && return 0   # the package's own postinst may have started it
    fi
    local ver; ver=$(pg_version)
    [ -n "$ver" ] || die "no cluster under /etc/postgresql after installing postgresql"
    say "starting PostgreSQL $ver/main"
    # The cluster may run already but not answer on 127.0.0.1 (listen_addresses).
    pg_ctlcluster --skip-systemctl-redirect "$ver" main start ||
        pg_ctlcluster --skip-systemctl-redirect "$ver" main status >/dev/null ||
        die "pg_ctlcluster $ver main start failed; see /var/log/postgresql/postgresql-$ver-main.log"
    wait_for PostgreSQL pg_up "/var/log/postgresql/postgresql-$ver-main.log"
}

start_redis() {
    redis_up && return 0
    command -v redis-server >/dev/null || { apt_install redis-server; redis_up && return 0; }
    say "starting Redis"
    mkdir -p /var/lib/redis /var/log/redis
    # No persistence: it only carries harvest queues and CKAN's cache.
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" \
        --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log ||
        die "redis-server failed to start; see /var/log/redis/ci.log"
    wait_for Redis redis_up /var/log/redis/ci.log
}

# Admin SQL on stdin. Trust auth over TCP works on the prepared machines; a
# freshly installed Debian cluster only lets the postgres OS user in, by peer
# auth on the socket.
admin_psql() {
    if psql -h 127.0.0.1 -U postgres -d postgres -w -Atqc 'select 1' >/dev/null 2>&1; then
        psql -h 127.0.0.1 -U postgres -d postgres -w -X -q -v ON_ERROR_STOP=1 "$@"
    elif [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- psql -d postgres -X -q -v ON_ERROR_STOP=1 "$@"
    else
        die "cannot connect as PostgreSQL superuser postgres (no trust auth on 127.0.0.1 and not root)"
    fi
}

ensure_role_and_dbs() {
    admin_psql -v role="$ROLE" -v pw="$PASSWORD" <<'SQL' >/dev/null
SELECT format('CREATE ROLE %I', :'role')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format('ALTER ROLE %I LOGIN CREATEDB PASSWORD %L', :'role', :'pw') \gexec
SQL
    local db
    for db in "$@"; do
        # UTF8 whatever the cluster default; a cluster created under the C
        # locale (SQL_ASCII) gets C.UTF-8 so non-ASCII text sorts and lowercases.
        admin_psql -v role="$ROLE" -v db="$db" <<'SQL' >/dev/null
SELECT format('CREATE DATABASE %I OWNER %I TEMPLATE template0 ENCODING %L', :'db', :'role', 'UTF8')
       || CASE WHEN (SELECT pg_encoding_to_char(encoding) FROM pg_database
                      WHERE datname = 'template1') = 'UTF8'
               THEN '' ELSE ' LOCALE ''C.UTF-8''' END
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db') \gexec
SQL
    done
}

start_postgres
start_redis
command -v psql >/dev/null || apt_install postgresql-client
ensure_role_and_dbs "$@"
say "PostgreSQL and Redis up; role $ROLE${1:+, databases: $*}"
