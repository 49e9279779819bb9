#!/usr/bin/env bash
# `pip check` on .venv, less the requirements that requirements-nodeps.txt leaves unmet on purpose:
# invisible-watermark 0.2.0 declares opencv-python and torch, but the dwtDct decoder we load
# (worker/signals/watermark.py) needs only cv2, which opencv-python-headless (requirements.txt) provides under
# the other name, and never torch. Anything else pip reports is a real conflict: printed, and setup fails.
set -euo pipefail
cd "$(dirname "$0")/.."
if report=$(.venv/bin/python -m pip check --disable-pip-version-check 2>&1); then exit 0; fi
rest=$(grep -Ev '^invisible-watermark 0\.2\.0 requires (opencv-python|torch), which is not installed\.$' <<<"$report" || true)
if [[ -n $rest ]]; then
  printf '%s\n' "$rest" >&2
  echo "setup: the Python packages in .venv conflict (pip check, above)" >&2
  exit 1
fi
