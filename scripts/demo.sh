#!/usr/bin/env bash
# Local CKAN with this extension, harvesting a second, "remote" CKAN; run by
# `make demo`. Both are the installed CKAN, each with its own ini (demo.ini,
# demo-remote.ini), database and port. The remote is seeded with sample
# datasets, the local site gets a harvestplus_ckan source for it.
# Everything a production site runs starts in the background, each with a
# log and a pid file in .demo/: the local web app (ckan), the gather and
# fetch workers (gather, fetch), the scheduler (scheduler) and the remote
# (remote). The first harvest then goes through the queues and the workers,
# with a progress bar. `make demo-stop` stops them all.
# Running it again reuses everything: the harvest then finds nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PORT=${DEMO_PORT:-5000}
DIR=.demo
INI=$DIR/demo.ini
DB=${DEMO_DB:-harvestplus_demo}
DB_URL=postgresql://harvestplus:harvestplus@127.0.0.1:5432/$DB
URL=http://127.0.0.1:$PORT
REMOTE_PORT=${DEMO_REMOTE_PORT:-5001}
REMOTE_INI=$DIR/remote.ini
REMOTE_DB=${DEMO_REMOTE_DB:-${DB/_demo/_demo_remote}}
REMOTE_URL=http://127.0.0.1:$REMOTE_PORT
SOURCE=northvale-portal
# The same login on both sites.
ADMIN=admin
ADMIN_PASSWORD=harvestplus-demo

die() { echo "demo.sh: $*" >&2; exit 1; }
ckan() { "$VENV/bin/ckan" -c "$INI" "$@"; }
remote() { "$VENV/bin/ckan" -c "$REMOTE_INI" "$@"; }
sql() { psql "postgresql://harvestplus:harvestplus@127.0.0.1:5432/$1" -X -A -t -q \
    -v ON_ERROR_STOP=1 -c "$2"; }
answers() { "$VENV/bin/python" -c 'import sys, urllib.request as u; u.urlopen(sys.argv[1], timeout=5)' \
    "$1/api/3/action/status_show" 2>/dev/null; }
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

[ -x "$VENV/bin/ckan" ] || die "$VENV/bin/ckan missing: run make install first"
[ "$PORT" != "$REMOTE_PORT" ] || die "DEMO_PORT and DEMO_REMOTE_PORT are both $PORT"
for port in "$PORT" "$REMOTE_PORT"; do
    if listening "$port"; then
        die "something already listens on 127.0.0.1:$port (a demo left running? make demo-stop); or pick other ports: make demo DEMO_PORT=5050 DEMO_REMOTE_PORT=5051"
    fi
done

scripts/services.sh "$DB" "$REMOTE_DB"

mkdir -p "$DIR/storage" "$DIR/remote-storage"
render() {  # template secret-file port db output
    if [ ! -s "$2" ]; then
        (umask 077; "$VENV/bin/python" -c 'import secrets; print(secrets.token_urlsafe(32))' >"$2")
    fi
    # Rendered on every run so edits to the template take effect. None of the
    # values holds a character special to sed (token_urlsafe: letters, digits, - and _).
    (umask 077; sed -e "s|@SECRET_KEY@|$(cat "$2")|" -e "s|@PORT@|$3|g" -e "s|@DB@|$4|g" \
        "$1" >"$5")
}
render demo.ini "$DIR/secret" "$PORT" "$DB" "$INI"
render demo-remote.ini "$DIR/remote-secret" "$REMOTE_PORT" "$REMOTE_DB" "$REMOTE_INI"

echo "==> Migrating $DB"
ckan db init
ckan db upgrade -p harvest
ckan db upgrade -p harvestplus
ckan db upgrade -p harvestplus_pgsearch
# Datasets saved while another search index was configured (or before an
# upgrade) are indexed now; the rest are left as they are.
ckan search-index rebuild --only-missing --quiet

# Not `db clean` as in tests/remote: the remote keeps its datasets (and their
# ids and modified dates) from one run to the next, so harvesting it again
# finds them unchanged.
echo "==> Migrating $REMOTE_DB (the remote)"
remote db init
# The remote has no ckanext-harvest: only the search index's tables.
remote db upgrade -p harvestplus_pgsearch
remote search-index rebuild --only-missing --quiet

for site in local remote; do
    if [ "$site" = local ]; then db=$DB; run=ckan; else db=$REMOTE_DB; run=remote; fi
    if [ -z "$(sql "$db" "SELECT 1 FROM \"user\" WHERE name = '$ADMIN'")" ]; then
        echo "==> Creating sysadmin $ADMIN ($site)"
        $run user add "$ADMIN" email=admin@example.org password="$ADMIN_PASSWORD" fullname="Demo Admin"
        $run sysadmin add "$ADMIN"
    fi
done

# start NAME LOG COMMAND...: a process in the background, in its own session so
# that it outlives make and a closing terminal; its pid goes to $DIR/NAME.pid.
start() {
    local name=$1 log=$2
    shift 2
    setsid "$@" >"$log" 2>&1 </dev/null &
    echo $! >"$DIR/$name.pid"
    pids+=("$!")
}
pids=()
# Until the end, any failure (or Ctrl-C) takes every process down with it.
stop() {
    local p name
    for name in ckan remote gather fetch scheduler; do rm -f "$DIR/$name.pid"; done
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || :; done
}
trap stop EXIT
trap 'echo " demo stopped"; exit 130' INT
trap 'exit 143' TERM

echo "==> Starting the remote CKAN on $REMOTE_URL (log $DIR/remote.log)"
start remote "$DIR/remote.log" "$VENV/bin/ckan" -c "$REMOTE_INI" run -H 127.0.0.1 -p "$REMOTE_PORT" --disable-reloader
remote_pid=$!
echo "==> Starting CKAN on $URL (log $DIR/ckan.log)"
start ckan "$DIR/ckan.log" "$VENV/bin/ckan" -c "$INI" run -H 127.0.0.1 -p "$PORT" --disable-reloader
pid=$!
echo "==> Starting the gather and fetch workers and the scheduler (logs $DIR/gather.log, fetch.log, scheduler.log)"
start gather "$DIR/gather.log" "$VENV/bin/ckan" -c "$INI" harvestplus worker gather
start fetch "$DIR/fetch.log" "$VENV/bin/ckan" -c "$INI" harvestplus worker fetch
start scheduler "$DIR/scheduler.log" "$VENV/bin/ckan" -c "$INI" harvestplus scheduler --interval 60

wait_for() {  # url pid log
    local i
    for ((i = 0; ; i++)); do
        answers "$1" && return 0
        kill -0 "$2" 2>/dev/null || die "CKAN exited during startup; see $3"
        ((i < 90)) || die "CKAN did not answer on $1 within 90s; see $3"
        sleep 1
    done
}
wait_for "$REMOTE_URL" "$remote_pid" "$DIR/remote.log"
wait_for "$URL" "$pid" "$DIR/ckan.log"
for name in gather fetch scheduler; do
    kill -0 "$(cat "$DIR/$name.pid")" 2>/dev/null || die "the $name process exited; see $DIR/$name.log"
done

# token SITE: a fresh API token of the admin; demo_seed.py revokes it when done.
token() { "$1" user token add "$ADMIN" demo | tail -n 1 | tr -d '[:space:]'; }
seed() { DEMO_API_TOKEN=$1 "$VENV/bin/python" scripts/demo_seed.py "${@:2}"; }

echo "==> Seeding the remote catalogue"
t=$(token remote)
seed "$t" remote "$REMOTE_URL"
# The source's api_key: a token of the remote's admin, kept in $DIR from one
# demo to the next (a new remote database gets a new one).
key_file="$DIR/remote-api-key"
if [ ! -s "$key_file" ] || [ "$(cat "$DIR/remote-api-key.db" 2>/dev/null)" != "$REMOTE_DB" ] ||
    [ -z "$(sql "$REMOTE_DB" "SELECT 1 FROM api_token t JOIN \"user\" u ON u.id = t.user_id WHERE u.name = '$ADMIN' AND t.name = 'harvest-source'")" ]; then
    remote user token add "$ADMIN" harvest-source | tail -n 1 | tr -d '[:space:]' >"$key_file"
    echo "$REMOTE_DB" >"$DIR/remote-api-key.db"
fi
echo "==> Seeding demo datasets and the harvest source $SOURCE"
t=$(token ckan)
DEMO_REMOTE_API_KEY=$(cat "$key_file") seed "$t" local "$URL" --source "$SOURCE" --remote-url "$REMOTE_URL"

echo "==> Harvesting $SOURCE ($REMOTE_URL) through the queues and the workers"
harvest_failed=0
# A job left unfinished by an earlier demo that was killed half way is ended first.
ckan harvester job-abort "$SOURCE" >/dev/null 2>&1 || :
ckan harvestplus run "$SOURCE" --wait || harvest_failed=$?

cat <<EOF

  CKAN demo:       $URL
    harvest sources:  $URL/harvest
    this source:      $URL/harvest/$SOURCE   (Admin: Reharvest, Jobs, Edit, Delete)
    datasets:         $URL/dataset   (harvested ones: $URL/organization/northvale-region)
  Remote CKAN:     $REMOTE_URL   (what was harvested: $REMOTE_URL/dataset)
  Log in (both):   $ADMIN / $ADMIN_PASSWORD
  Running:         web app, gather and fetch workers, scheduler (every 60 s), remote;
                   logs and pids in $DIR/. Stop them all with: make demo-stop

EOF
if [ "$harvest_failed" != 0 ]; then
    echo "demo.sh: the harvest failed or some records errored (exit $harvest_failed);" \
        "everything stays up so you can look at $URL/harvest/$SOURCE" >&2
fi
trap - EXIT
exit "$harvest_failed"
