#!/usr/bin/env bash
# `make run`: the web server, a Celery worker and beat on the embedded broker,
# all in one process group so one Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
export DJANGO_DEBUG="${DJANGO_DEBUG:-1}"
export EMAIL_URL="${EMAIL_URL:-consolemail://}"
ADDR="${FIG_RUN_ADDR:-127.0.0.1:8000}"
VAR="${FIG_VAR_DIR:-var}"
mkdir -p "$VAR"
chmod 700 "$VAR"
# A private vault key for this machine only, made once and kept in the var folder.
if [ -z "${FIG_VAULT_KEYS:-}" ]; then
  if [ ! -s "$VAR/dev-vault-key" ]; then
    (umask 077 && $PY -c 'import base64, os; print("dev1:" + base64.urlsafe_b64encode(os.urandom(32)).decode())' > "$VAR/dev-vault-key")
  fi
  FIG_VAULT_KEYS="$(cat "$VAR/dev-vault-key")"
  export FIG_VAULT_KEYS
fi

$PY manage.py migrate --noinput
$PY manage.py seed_demo

pids=()
cleanup() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

$PY -m celery -A fig_safety worker --beat --loglevel=INFO --concurrency=1 \
  --without-gossip --without-mingle --without-heartbeat \
  --schedule="$VAR/celerybeat-schedule" &
pids+=($!)

echo
echo "FiG Safety is at http://$ADDR  (Ctrl-C stops the site, the worker and beat)"
echo
$PY manage.py runserver "$ADDR" &
pids+=($!)
wait -n "${pids[@]}"
