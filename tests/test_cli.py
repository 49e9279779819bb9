"""`deepfake-detect predict` as a person runs it: its answer and nothing else (no TensorFlow start-up log)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import make_jpeg

ROOT = Path(__file__).resolve().parents[1]


def test_predict_prints_only_its_answer(tmp_path):
    photo = tmp_path / "p.jpg"
    photo.write_bytes(make_jpeg((96, 96)))
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}  # as in a fresh shell
    run = subprocess.run([sys.executable, "-m", "worker.cli", "predict", "--json", str(photo)], env=env,
                         capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stderr == ""
    (line,) = run.stdout.splitlines()
    assert json.loads(line)["verdict"] in ("real", "uncertain", "fake")
