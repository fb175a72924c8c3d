#!/usr/bin/env bash
# `make run`: the web server, a Celery worker and beat on the embedded broker,
# all in one process group so one Ctrl-C stops everything. Emailed links point at the address served
# (FIG_RUN_ADDR) unless FIG_SITE_URL says otherwise (fig_safety/run_address.py); the last line printed
# at start-up says where the site is.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
export DJANGO_DEBUG="${DJANGO_DEBUG:-1}"
export EMAIL_URL="${EMAIL_URL:-consolemail://}"
ADDR="${FIG_RUN_ADDR:-127.0.0.1:8000}"
# Settings derive FIG_SITE_URL from this when it is not set, in every process started below.
export FIG_RUN_ADDR="$ADDR"
# Each process's lines reach the console as they happen, so the last line really is the last.
export PYTHONUNBUFFERED=1
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
# --demo-policy: without FiG's policy file, staff still meet the acknowledgement page with a demo text.
$PY manage.py seed_demo --demo-policy

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

$PY manage.py runserver "$ADDR" &
pids+=($!)
# Waits for the site to answer and the worker to run a task, then prints where the site is.
$PY scripts/announce_when_ready.py "$ADDR" "${pids[@]}" || true
wait -n "${pids[@]}"
