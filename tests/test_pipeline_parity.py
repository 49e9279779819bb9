"""The worker's pipeline, the CLI and `models.evaluate` give the same probabilities for the same file:
the combined one and every detector's own."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from models import data, evaluate
from tests.conftest import camera_like_jpeg, write_tags
from worker.pipeline import analyze_file

ROOT = Path(__file__).resolve().parents[1]


def test_pipeline_and_evaluate_agree(res, tmp_path):
    folder = tmp_path / "set" / "real" / "own"
    folder.mkdir(parents=True)
    camera_like_jpeg(folder / "upright.jpg", size=(700, 500))
    write_tags(camera_like_jpeg(folder / "rotated.jpg", size=(700, 500)), "-Orientation#=6")
    rgba = np.zeros((400, 600, 4), np.uint8)
    rgba[..., 0] = np.linspace(0, 255, 600, dtype=np.uint8)
    rgba[..., 3] = np.tile(np.linspace(0, 255, 600, dtype=np.uint8), (400, 1))
    Image.fromarray(rgba, "RGBA").save(folder / "transparent.png")
    items = data.list_items(tmp_path / "set")
    scored = evaluate.score_items(res.detector, items)
    names = [Path(i.path).name for i in items]
    members = [m.name for m in res.detector.members]
    assert sorted(k for k in scored if k.startswith("member:")) == sorted(f"member:{m}" for m in members)
    cli = subprocess.run([sys.executable, "-m", "worker.cli", "predict", "--json", *[str(folder / n) for n in names]],
                         capture_output=True, text=True, check=True, env=os.environ | {"PYTHONPATH": str(ROOT)})
    via_cli = {Path(r["file"]).name: r for r in map(json.loads, cli.stdout.splitlines())}
    for k, name in enumerate(names):
        outcome = analyze_file(folder / name, res)
        assert outcome.fake_probability == pytest.approx(scored["p"][k], abs=1e-6), name
        assert via_cli[name]["fake_probability"] == pytest.approx(scored["p"][k], abs=1e-6), name
        by_name = {d["name"]: d["fake_probability"] for d in outcome.result["detectors"]}
        cli_members = {d["name"]: d["fake_probability"] for d in via_cli[name]["detectors"]}
        for m in members:
            assert by_name[m] == pytest.approx(scored[f"member:{m}"][k], abs=1e-6), (name, m)
            assert cli_members[m] == pytest.approx(by_name[m], abs=1e-6), (name, m)
        model_items = [e for e in outcome.evidence if e["kind"] == "model"]
        assert {e.get("detector") for e in model_items} >= set(members)  # one evidence item per detector
    assert analyze_file(folder / "rotated.jpg", res).height == 700  # orientation applied before scoring
