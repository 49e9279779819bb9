"""The worker's pipeline, the CLI and `models.evaluate` give the same probability for the same file."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from models import data, evaluate
from tests.conftest import camera_like_jpeg, write_tags
from worker.pipeline import analyze_file


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
    via_eval = dict(zip([Path(i.path).name for i in items], evaluate.score_items(res.detector, items)["p"]))
    for name, p_eval in via_eval.items():
        outcome = analyze_file(folder / name, res)
        assert outcome.fake_probability == pytest.approx(p_eval, abs=1e-6), name
    assert analyze_file(folder / "rotated.jpg", res).height == 700  # orientation applied before scoring
