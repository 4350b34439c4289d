#!/usr/bin/env bash
# Local CKAN with this extension, harvesting a second, "remote" CKAN; run by
# `make demo`. Both are the installed CKAN, each with its own ini (demo.ini,
# demo-remote.ini), database and port. The remote is seeded with sample
# datasets, the local site gets a harvestplus_ckan source for it, and the
# source is harvested once in this process, with a progress bar.
# With a terminal on stdin the local server stays in the foreground until
# Ctrl-C, which stops both. Without one (CI, scripts) or with DEMO_DETACH=1
# both keep running in the background (logs .demo/ckan.log and
# .demo/remote.log, pids .demo/ckan.pid and .demo/remote.pid; `make demo-stop`).
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

if [ -n "${DEMO_DETACH:-}" ]; then detach=$DEMO_DETACH
elif [ -t 0 ]; then detach=0
else detach=1; fi

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
# Datasets saved while another search index was configured (or before an
# upgrade) are indexed now; the rest are left as they are.
ckan search-index rebuild --only-missing --quiet

# Not `db clean` as in tests/remote: the remote keeps its datasets (and their
# ids and modified dates) from one run to the next, so harvesting it again
# finds them unchanged.
echo "==> Migrating $REMOTE_DB (the remote)"
remote db init
remote db upgrade -p harvestplus
remote search-index rebuild --only-missing --quiet

for site in local remote; do
    if [ "$site" = local ]; then db=$DB; run=ckan; else db=$REMOTE_DB; run=remote; fi
    if [ -z "$(sql "$db" "SELECT 1 FROM \"user\" WHERE name = '$ADMIN'")" ]; then
        echo "==> Creating sysadmin $ADMIN ($site)"
        $run user add "$ADMIN" email=admin@example.org password="$ADMIN_PASSWORD" fullname="Demo Admin"
        $run sysadmin add "$ADMIN"
    fi
done

# serve INI PORT [LOG]: a CKAN server in the background; its pid in $served.
# Detached, it gets its own session so it outlives make and a closing terminal.
serve() {
    local cmd=("$VENV/bin/ckan" -c "$1" run -H 127.0.0.1 -p "$2" --disable-reloader)
    if [ "$detach" = 1 ]; then setsid "${cmd[@]}" >"$3" 2>&1 </dev/null &
    elif [ -n "${3:-}" ]; then "${cmd[@]}" >"$3" 2>&1 </dev/null &
    else "${cmd[@]}" & fi
    served=$!
}

echo "==> Starting the remote CKAN on $REMOTE_URL (log $DIR/remote.log)"
serve "$REMOTE_INI" "$REMOTE_PORT" "$DIR/remote.log"
remote_pid=$served
echo "$remote_pid" >"$DIR/remote.pid"
echo "==> Starting CKAN on $URL"
if [ "$detach" = 1 ]; then
    serve "$INI" "$PORT" "$DIR/ckan.log"
    log=$DIR/ckan.log
else
    serve "$INI" "$PORT"
    log="the output above"
fi
pid=$served
echo "$pid" >"$DIR/ckan.pid"
# Until the end, any failure (or Ctrl-C) takes both servers down with it.
stop() {
    rm -f "$DIR/ckan.pid" "$DIR/remote.pid"
    local p
    for p in "$pid" "$remote_pid"; do
        kill "$p" 2>/dev/null || continue
        wait "$p" 2>/dev/null || :  # it dies of our SIGTERM; that is no error
    done
}
trap stop EXIT
trap 'echo " demo stopped"; exit 0' INT
trap 'exit 143' TERM

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
wait_for "$URL" "$pid" "$log"

# token SITE: a fresh API token of the admin; demo_seed.py revokes it when done.
token() { "$1" user token add "$ADMIN" demo | tail -n 1 | tr -d '[:space:]'; }
seed() { DEMO_API_TOKEN=$1 "$VENV/bin/python" scripts/demo_seed.py "${@:2}"; }

echo "==> Seeding the remote catalogue"
t=$(token remote)
seed "$t" remote "$REMOTE_URL"
echo "==> Seeding demo datasets and the harvest source $SOURCE"
t=$(token ckan)
seed "$t" local "$URL" --source "$SOURCE" --remote-url "$REMOTE_URL"

echo "==> Harvesting $SOURCE ($REMOTE_URL)"
harvest_failed=0
ckan harvestplus run "$SOURCE" --sync || harvest_failed=$?

cat <<EOF

  CKAN demo:       $URL
    harvest sources:  $URL/harvest
    this source:      $URL/harvest/$SOURCE   (jobs, errors, "Reharvest")
    datasets:         $URL/dataset   (harvested ones: $URL/organization/northvale-region)
  Remote CKAN:     $REMOTE_URL   (what was harvested: $REMOTE_URL/dataset)
  Log in (both):   $ADMIN / $ADMIN_PASSWORD
  Harvest again:   $VENV/bin/ckan -c $INI harvestplus run $SOURCE --sync

EOF
if [ "$harvest_failed" != 0 ]; then
    echo "demo.sh: the harvest failed or some records errored (exit $harvest_failed);" \
        "the servers stay up so you can look at $URL/harvest/$SOURCE" >&2
fi
if [ "$detach" = 1 ]; then
    trap - EXIT
    echo "Running in the background (pids $pid and $remote_pid, logs $DIR/ckan.log and" \
        "$DIR/remote.log). Stop them with: make demo-stop"
    exit "$harvest_failed"
fi
echo "Press Ctrl-C to stop."
wait "$pid"
