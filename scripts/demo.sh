#!/usr/bin/env bash
# Local CKAN with this extension and a few seeded datasets; run by `make demo`.
# With a terminal on stdin the server stays in the foreground until Ctrl-C.
# Without one (CI, scripts) or with DEMO_DETACH=1 it keeps running in the
# background (log .demo/ckan.log, pid .demo/ckan.pid; `make demo-stop`).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PORT=${DEMO_PORT:-5000}
DIR=.demo
INI=$DIR/demo.ini
DB=${DEMO_DB:-harvestplus_demo}
DB_URL=postgresql://harvestplus:harvestplus@127.0.0.1:5432/$DB
URL=http://127.0.0.1:$PORT
ADMIN=admin
ADMIN_PASSWORD=harvestplus-demo

die() { echo "demo.sh: $*" >&2; exit 1; }
ckan() { "$VENV/bin/ckan" -c "$INI" "$@"; }
sql() { psql "$DB_URL" -X -A -t -q -v ON_ERROR_STOP=1 -c "$1"; }
answers() { "$VENV/bin/python" -c 'import sys, urllib.request as u; u.urlopen(sys.argv[1], timeout=5)' \
    "$URL/api/3/action/status_show" 2>/dev/null; }

if [ -n "${DEMO_DETACH:-}" ]; then detach=$DEMO_DETACH
elif [ -t 0 ]; then detach=0
else detach=1; fi

[ -x "$VENV/bin/ckan" ] || die "$VENV/bin/ckan missing: run make install first"
if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
    die "something already listens on 127.0.0.1:$PORT (a demo left running? make demo-stop); or pick another port: make demo DEMO_PORT=5050"
fi

scripts/services.sh "$DB"

mkdir -p "$DIR/storage"
if [ ! -s "$DIR/secret" ]; then
    (umask 077; "$VENV/bin/python" -c 'import secrets; print(secrets.token_urlsafe(32))' >"$DIR/secret")
fi
# Rendered on every run so edits to demo.ini take effect. None of the values
# holds a character special to sed (token_urlsafe: letters, digits, - and _).
(umask 077; sed -e "s|@SECRET_KEY@|$(cat "$DIR/secret")|" -e "s|@PORT@|$PORT|g" \
    -e "s|@DB@|$DB|g" demo.ini >"$INI")

echo "==> Migrating $DB"
ckan db init
ckan db upgrade -p harvest
ckan db upgrade -p harvestplus
# Datasets saved while another search index was configured (or before an
# upgrade) are indexed now; the rest are left as they are.
ckan search-index rebuild --only-missing --quiet

if [ -z "$(sql "SELECT 1 FROM \"user\" WHERE name = '$ADMIN'")" ]; then
    echo "==> Creating sysadmin $ADMIN"
    ckan user add "$ADMIN" email=admin@example.org password="$ADMIN_PASSWORD" fullname="Demo Admin"
    ckan sysadmin add "$ADMIN"
fi

echo "==> Starting CKAN on $URL"
if [ "$detach" = 1 ]; then
    # Own session, so it outlives make and a closing terminal.
    setsid "$VENV/bin/ckan" -c "$INI" run -H 127.0.0.1 -p "$PORT" --disable-reloader \
        >"$DIR/ckan.log" 2>&1 </dev/null &
    log=$DIR/ckan.log
else
    "$VENV/bin/ckan" -c "$INI" run -H 127.0.0.1 -p "$PORT" --disable-reloader &
    log="the output above"
fi
pid=$!
echo "$pid" >"$DIR/ckan.pid"
# Until the end, any failure (or Ctrl-C) takes the server down with it.
stop() {
    rm -f "$DIR/ckan.pid"
    kill "$pid" 2>/dev/null || return 0
    wait "$pid" 2>/dev/null || :  # it dies of our SIGTERM; that is no error
}
trap stop EXIT
trap 'echo " demo stopped"; exit 0' INT
trap 'exit 143' TERM

for ((i = 0; ; i++)); do
    answers && break
    kill -0 "$pid" 2>/dev/null || die "CKAN exited during startup; see $log"
    ((i < 90)) || die "CKAN did not answer on $URL within 90s; see $log"
    sleep 1
done

if [ "$(sql "SELECT count(*) FROM package WHERE type = 'dataset'")" = 0 ]; then
    echo "==> Seeding demo datasets"
    token=$(ckan user token add "$ADMIN" demo | tail -n 1 | tr -d '[:space:]')
    DEMO_API_TOKEN=$token "$VENV/bin/python" scripts/demo_seed.py "$URL"
fi

cat <<EOF

  CKAN demo:  $URL   (datasets: $URL/dataset)
  Log in as:  $ADMIN / $ADMIN_PASSWORD

EOF
if [ "$detach" = 1 ]; then
    trap - EXIT
    echo "Running in the background (pid $pid, log $DIR/ckan.log). Stop it with: make demo-stop"
    exit 0
fi
echo "Press Ctrl-C to stop."
wait "$pid"
