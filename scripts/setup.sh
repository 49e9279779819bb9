#!/usr/bin/env bash
# Set up everything the service needs on a Debian/Ubuntu machine: system packages, .venv, requirements.
# Usage: scripts/setup.sh [--test]   (--test adds the browser, Ceph's radosgw and the training extras the tests use)
set -euo pipefail
cd "$(dirname "$0")/.."
want_test=0; [[ "${1:-}" == "--test" ]] && want_test=1

sudo_() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }

# --- system packages, only those missing -------------------------------------------------------
missing=()
command -v exiftool >/dev/null || missing+=(libimage-exiftool-perl)
command -v redis-server >/dev/null || missing+=(redis-server)
if (( want_test )); then
  [[ -x /usr/bin/chromium ]] || missing+=(chromium)
  command -v pg_ctlcluster >/dev/null || command -v psql >/dev/null || missing+=(postgresql)
  # the real S3 server the storage tests start (scripts/s3-server.sh): Ceph's radosgw on a one-node cluster
  # wrk: the benchmark's load generator for the status endpoint (a Python one in the same 2 cores distorts it)
  command -v wrk >/dev/null || missing+=(wrk)
  for pkg in ceph-mon ceph-osd radosgw; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
  done
fi
if (( ${#missing[@]} )); then
  echo "setup: installing ${missing[*]} with apt" >&2
  sudo_ apt-get update -qq
  sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- Python environment ----------------------------------------------------------------------------
PY=${PYTHON:-python3}
"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "setup: Python 3.11+ is needed" >&2; exit 1; }
if [[ ! -x .venv/bin/python ]]; then
  "$PY" -m venv .venv || { sudo_ apt-get install -y -qq python3-venv >/dev/null && "$PY" -m venv .venv; }
fi
# pip's own conflict warning is off (--no-warn-conflicts) and one check at the end takes its place: the
# packages of requirements-nodeps.txt are installed without their declared dependencies on purpose, and
# pip would report those as an ERROR after every later install (deps_check says what it accepts).
pip_install() { .venv/bin/python -m pip install -q --disable-pip-version-check --no-warn-conflicts "$@"; }
installed=0
base_stamp=".venv/.installed-base-$(cat requirements.txt requirements-nodeps.txt pyproject.toml | sha256sum | cut -c1-16)"
if [[ ! -f $base_stamp ]]; then
  echo "setup: installing Python requirements into .venv" >&2
  pip_install -r requirements.txt
  # packages whose declared dependencies would pull in a multi-GB torch the service does not use
  pip_install --no-deps -r requirements-nodeps.txt
  pip_install --no-deps -e .
  rm -f .venv/.installed-base-*; touch "$base_stamp"; installed=1
fi
if (( want_test )); then
  test_stamp=".venv/.installed-train-$(sha256sum requirements-train.txt | cut -c1-16)"
  if [[ ! -f $test_stamp ]]; then
    echo "setup: installing the training extras (CPU torch) used by the tests" >&2
    pip_install -r requirements-train.txt
    rm -f .venv/.installed-train-*; touch "$test_stamp"; installed=1
  fi
fi
if (( installed )); then scripts/deps_check.sh; fi
