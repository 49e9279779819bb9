#!/usr/bin/env bash
# Set up and run the whole service locally: migrations, Redis (started if none answers), the workers, the web.
# Ctrl-C stops what this script started, and nothing else.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export DATA_DIR=${DATA_DIR:-$PWD/data}
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
# a local run calls back receivers on this machine (127.0.0.1); deployments keep the default (false)
export WEBHOOK_ALLOW_PRIVATE=${WEBHOOK_ALLOW_PRIVATE:-true}
# and image links (paste a link on the upload page) to servers on this machine, likewise
export LINK_ALLOW_PRIVATE=${LINK_ALLOW_PRIVATE:-true}
HOST=${HOST:-127.0.0.1}; PORT=${PORT:-8000}
mkdir -p "$DATA_DIR"
# /metrics: worker pool processes write their metrics here and the web merges them (prometheus-client multiprocess
# mode; web and worker on this one machine). Emptied at start, as the library asks.
export PROMETHEUS_MULTIPROC_DIR=${PROMETHEUS_MULTIPROC_DIR:-$DATA_DIR/metrics}
mkdir -p "$PROMETHEUS_MULTIPROC_DIR" && rm -f "$PROMETHEUS_MULTIPROC_DIR"/*.db
pids=()
cleanup() { trap - INT TERM EXIT; (( ${#pids[@]} )) && kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; echo "stopped"; }
trap cleanup INT TERM EXIT

.venv/bin/python -m shared.migrate
if ! .venv/bin/python -m shared.redis_check "$REDIS_URL"; then
  port=$(.venv/bin/python -c 'import sys,urllib.parse as u; print(u.urlparse(sys.argv[1]).port or 6379)' "$REDIS_URL")
  echo "run: no Redis answers at $REDIS_URL; starting one on port $port" >&2
  redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$DATA_DIR" \
    --logfile "$DATA_DIR/redis.log" & pids+=($!)
  for _ in $(seq 50); do .venv/bin/python -m shared.redis_check "$REDIS_URL" && break; sleep 0.1; done
fi
# the worker fleet (worker/fleet.py): an interactive worker for single uploads beside a general one for every
# queue at nice BULK_NICE; WORKER_INTERACTIVE=0 runs one worker for all. It stops its workers on SIGTERM/SIGINT.
.venv/bin/python -m worker.fleet & pids+=($!)
export HOST PORT  # gunicorn.conf.py: bind, WEB_WORKERS (2) processes of WEB_THREADS (4) threads
.venv/bin/gunicorn "web:create_app()" & pids+=($!)
# the URL is printed once the web answers: a bind to every address is probed on loopback
probe_host=$HOST; [[ $HOST == 0.0.0.0 ]] && probe_host=127.0.0.1; [[ $HOST == "::" ]] && probe_host=::1
[[ $probe_host == *:* && $probe_host != \[* ]] && probe_host="[$probe_host]"
until .venv/bin/python -c 'import sys, urllib.request as r; r.urlopen(sys.argv[1], timeout=2)' \
    "http://$probe_host:$PORT/healthz" 2>/dev/null; do
  kill -0 "${pids[-1]}" 2>/dev/null || { echo "run: the web did not start (see its log above)" >&2; exit 1; }
  sleep 0.2
done
echo
echo "deepfake-detect is running at http://$HOST:$PORT/  (Ctrl-C to stop)"
wait -n "${pids[@]}"
