"""The ensemble: how member scores combine, how a spec loads, and that each member keeps its own crops."""

import json

import keras
import numpy as np
import pytest
from PIL import Image

from models import preprocess
from shared import model_version
from worker import detector


def _constant_model(p: float, size: int, name: str):
    """A model whose output is p whatever the input (zero kernel, bias = logit(p))."""
    inp = keras.Input((size, size, 3))
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Rescaling(1 / 255.0)(inp))
    dense = keras.layers.Dense(1, activation="sigmoid")
    out = dense(x)
    model = keras.Model(inp, out, name=name)
    dense.set_weights([np.zeros((3, 1), np.float32), np.array([np.log(p / (1 - p))], np.float32)])
    return model


def _brightness_model(size: int):
    """P rises with the mean brightness of the crop: lets a test see which crops a member scored."""
    inp = keras.Input((size, size, 3))
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Rescaling(1 / 255.0)(inp))
    dense = keras.layers.Dense(1, activation="sigmoid")
    model = keras.Model(inp, dense(x))
    dense.set_weights([np.full((3, 1), 4 / 3, np.float32), np.array([-2.0], np.float32)])
    return model


def _write(model, path, **sidecar):
    model.save(path)
    path.with_suffix(".json").write_text(json.dumps(sidecar))
    return path


def _spec(tmp_path, members, thresholds=None, bias=0.0):
    spec = tmp_path / "ensemble.json"
    spec.write_text(json.dumps({"members": members, "bias": bias,
                                "thresholds": thresholds or {"fake": 0.7, "real": 0.2}}))
    return spec


def _img(w, h, seed=0):
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8))


def test_members_combine_as_weighted_logits(tmp_path):
    _write(_constant_model(0.8, 64, "a"), tmp_path / "a.keras", name="content", crops="grid")
    _write(_constant_model(0.3, 32, "b"), tmp_path / "b.keras", name="lowlevel", crops="textured")
    ens = detector.load(str(_spec(tmp_path, [{"file": "a.keras", "name": "content", "weight": 0.75},
                                             {"file": "b.keras", "name": "lowlevel", "weight": 0.25}], bias=0.1)))
    [scores] = ens.score([detector.perturbed(_img(300, 200), ens.input_size)])
    logit = lambda p: np.log(p / (1 - p))  # noqa: E731
    expected = 1 / (1 + np.exp(-(0.1 + 0.75 * logit(0.8) + 0.25 * logit(0.3))))
    assert scores.fake_probability == pytest.approx(expected, abs=1e-5)
    assert [(d["name"], round(d["fake_probability"], 5), d["weight"]) for d in scores.detectors] == \
        [("content", 0.8, 0.75), ("lowlevel", 0.3, 0.25)]
    assert all(o["fake_probability"] == pytest.approx(expected, abs=1e-5) for o in scores.line)
    assert ens.thresholds == {"fake": 0.7, "real": 0.2}
    assert ens.verdict(expected) == ("fake" if expected >= 0.7 else "uncertain")


def test_equal_weights_average_the_logits_not_the_probabilities(tmp_path):
    _write(_constant_model(0.99, 64, "a"), tmp_path / "a.keras", name="a")
    _write(_constant_model(0.5, 64, "b"), tmp_path / "b.keras", name="b")
    ens = detector.load(str(_spec(tmp_path, [{"file": "a.keras", "name": "a", "weight": 0.5},
                                             {"file": "b.keras", "name": "b", "weight": 0.5}])))
    p = ens.score_images([_img(100, 100)])[0]
    assert p == pytest.approx(1 / (1 + np.exp(-0.5 * np.log(99))), abs=1e-5)  # 0.909, not the mean 0.745


def test_each_member_scores_its_own_crops(tmp_path):
    _write(_brightness_model(64), tmp_path / "c.keras", name="content", crops="grid")
    _write(_brightness_model(preprocess.PATCH), tmp_path / "t.keras", name="lowlevel", crops="textured")
    ens = detector.load(str(_spec(tmp_path, [{"file": "c.keras", "name": "content", "weight": 0.5},
                                             {"file": "t.keras", "name": "lowlevel", "weight": 0.5}])))
    content, lowlevel = ens.members
    img = _img(500, 300, 4)
    assert content.crops(img).shape[1:3] == (64, 64)
    assert lowlevel.crops(img).shape == (preprocess.N_PATCHES, preprocess.PATCH, preprocess.PATCH, 3)
    # each member's probability is the mean logit over exactly the crops its kind names
    for member in ens.members:
        p = member.predict(preprocess.scored_crops(member.crop_kind, img, member.input_size))
        assert member.score_images([img])[0] == pytest.approx(detector.image_probability(p, member.crop_kind, member.aggregate), abs=1e-6)


def test_textured_patches_pick_the_textured_part():
    arr = np.full((300, 600, 3), 128, np.uint8)
    arr[:, 400:] = np.random.default_rng(0).integers(0, 256, (300, 200, 3), dtype=np.uint8)
    boxes = preprocess.texture_boxes(arr, 2)
    assert all(x >= 400 - preprocess.PATCH // 2 for x, _ in boxes)


def test_single_keras_file_is_an_ensemble_of_one(tmp_path):
    path = _write(_constant_model(0.6, 64, "solo"), tmp_path / "solo.keras", name="solo",
                  thresholds={"fake": 0.9, "real": 0.1})
    ens = detector.load(str(path))
    assert [m.name for m in ens.members] == ["solo"] and ens.thresholds == {"fake": 0.9, "real": 0.1}
    assert ens.score_images([_img(90, 90)])[0] == pytest.approx(0.6, abs=1e-5)
    assert ens.version == detector.file_sha256(path) == model_version.of(path)


def test_version_changes_with_any_member(tmp_path):
    _write(_constant_model(0.6, 64, "a"), tmp_path / "a.keras", name="a")
    spec = _spec(tmp_path, [{"file": "a.keras", "name": "a", "weight": 1.0}])
    first = detector._load.__wrapped__(str(spec)).version
    assert model_version.of(spec) == first  # what the web tier computes without loading the model
    _write(_constant_model(0.7, 64, "a"), tmp_path / "a.keras", name="a")
    assert detector._load.__wrapped__(str(spec)).version != first
    assert model_version.of(spec) == detector._load.__wrapped__(str(spec)).version
