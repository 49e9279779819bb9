#!/usr/bin/env bash
# Set up exactly as the run command does (plus the browser and training extras), then run the tests.
# Uses the Redis and PostgreSQL on 127.0.0.1 when they answer, and starts its own when they do not.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
export TMPDIR=${TMPDIR:-/tmp}
started=()
cleanup() { for cmd in "${started[@]}"; do eval "$cmd" || true; done; }
trap cleanup EXIT

export TEST_REDIS_URL=${TEST_REDIS_URL:-redis://127.0.0.1:6379/0}
if ! .venv/bin/python -m shared.redis_check "$TEST_REDIS_URL"; then
  rdir=$(mktemp -d); port=6391
  redis-server --port $port --bind 127.0.0.1 --save "" --appendonly no --dir "$rdir" --daemonize yes \
    --pidfile "$rdir/redis.pid" --logfile "$rdir/redis.log"
  started+=("kill \$(cat $rdir/redis.pid)")
  export TEST_REDIS_URL=redis://127.0.0.1:$port/0
  for _ in $(seq 50); do .venv/bin/python -m shared.redis_check "$TEST_REDIS_URL" && break; sleep 0.1; done
fi

if [[ -z "${TEST_POSTGRES_URL:-}" ]]; then
  if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    export TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/postgres
  elif pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1) && [[ -n $pgbin ]]; then
    pdir=$(mktemp -d); chown nobody "$pdir" 2>/dev/null || true
    runas=(); [[ $(id -u) -eq 0 ]] && runas=(runuser -u nobody --)
    "${runas[@]}" "$pgbin/initdb" -D "$pdir/data" -U postgres --auth=trust >/dev/null
    "${runas[@]}" "$pgbin/pg_ctl" -D "$pdir/data" -o "-p 5439 -k $pdir -c listen_addresses=127.0.0.1" -l "$pdir/log" -w start >/dev/null
    started+=("${runas[*]} $pgbin/pg_ctl -D $pdir/data -m fast stop >/dev/null")
    export TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:5439/postgres
  else
    echo "test: no PostgreSQL found; PostgreSQL tests will be skipped" >&2
  fi
fi
# test files run in TEST_PROCESSES (3) processes, each file whole in one (its module-scoped stacks start once):
# much of the suite's time is spent waiting on real workers, browsers, retries and timeouts, not computing, so a
# third process on 2 cores fills the CPU time two leave idle (about a quarter of it, measured with vmstat)
.venv/bin/python -m pytest -n "${TEST_PROCESSES:-3}" --dist loadfile "$@"
