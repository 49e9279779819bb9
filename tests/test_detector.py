"""Tests for worker.detector: contract, drop-in models, identical scores in every path."""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import keras

from models import data, evaluate, metrics, preprocess
from worker import detector

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "models" / "ensemble.json"


def _tiny_model(size=64, softmax=False):
    inp = keras.Input((size, size, 3))
    x = keras.layers.Rescaling(1 / 255.0)(inp)
    x = keras.layers.Conv2D(4, 3, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    out = keras.layers.Dense(2, activation="softmax")(x) if softmax else keras.layers.Dense(1, activation="sigmoid")(x)
    return keras.Model(inp, out)


def _img(w, h, seed=0):
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8))


@pytest.fixture
def tiny(tmp_path):
    path = tmp_path / "tiny.keras"
    _tiny_model().save(path)
    return path


def test_dropped_in_model_without_sidecar(tiny):
    det = detector.load(str(tiny))
    assert detector.load(str(tiny)) is det  # cached once per process
    det = det.members[0]
    assert det.input_size == 64
    assert det.thresholds == detector.DEFAULT_THRESHOLDS
    assert det.version == detector.file_sha256(tiny) and len(det.version) == 64
    p = det.predict(np.zeros((3, 64, 64, 3), np.uint8))
    assert p.shape == (3,) and ((0 <= p) & (p <= 1)).all()


def test_h5_softmax_model_and_sidecar(tmp_path):
    path = tmp_path / "m.h5"
    _tiny_model(softmax=True).save(path)
    path.with_suffix(".json").write_text(json.dumps({"thresholds": {"fake": 0.9, "real": 0.1}}))
    det = detector.load(str(path))
    assert det.thresholds == {"fake": 0.9, "real": 0.1}
    assert det.members[0].predict(np.zeros((2, 64, 64, 3))).shape == (2,)
    assert det.verdict(0.95) == "fake" and det.verdict(0.05) == "real" and det.verdict(0.5) == "uncertain"


def test_predict_accepts_other_crop_sizes(tiny):
    det = detector.load(str(tiny)).members[0]
    assert det.predict(np.zeros((2, 100, 90, 3), np.uint8)).shape == (2,)
    assert det.predict(np.zeros((1, 30, 30, 3), np.uint8)).shape == (1,)


def test_score_images_matches_manual_crop_average(tiny):
    det = detector.load(str(tiny))
    imgs = [_img(300, 200, 1), _img(64, 64, 2), _img(900, 700, 3)]
    scores = det.score_images(imgs)
    member = det.members[0]
    manual = [detector.image_probability(member.predict(preprocess.inference_crops(im, 64))) for im in imgs]
    assert np.allclose(scores, manual, atol=1e-6)


@pytest.mark.parametrize("rule", sorted(preprocess.AGGREGATES))
def test_multiview_detector_aggregates_global_view_and_crops_by_its_sidecar_rule(tmp_path, rule):
    path = tmp_path / "mv.keras"
    _tiny_model().save(path)
    path.with_suffix(".json").write_text(json.dumps({"crops": "multiview", "aggregate": rule}))
    det = detector.load(str(path))
    member = det.members[0]
    im = _img(900, 500, 4)
    crops = preprocess.multiview_crops(im, 64)
    assert len(crops) == 1 + len(preprocess.inference_crops(im, 64))
    assert np.array_equal(crops[0], preprocess.global_view(im, 64))
    z = metrics.logit(member.predict(crops).astype(np.float64))
    expected = {"global": z[0], "crops": z[1:].mean(), "mean": z.mean(), "half": (z[0] + z[1:].mean()) / 2,
                "max": z.max()}[rule]
    assert det.score_images([im])[0] == pytest.approx(1 / (1 + np.exp(-expected)), abs=1e-5)
    # the robustness line scores the global view alone
    assert member.score_crop_sets([member.crops(im, first_only=True)])[0] == pytest.approx(
        float(member.predict(crops[:1])[0]), abs=1e-5)


def test_unknown_aggregation_rule_is_refused_at_load(tmp_path):
    path = tmp_path / "bad.keras"
    _tiny_model().save(path)
    path.with_suffix(".json").write_text(json.dumps({"crops": "multiview", "aggregate": "median"}))
    with pytest.raises(ValueError, match="median"):
        detector.load(str(path))


def test_worker_and_evaluate_give_identical_probabilities(tiny, tmp_path):
    for cls, seed in (("real", 1), ("fake", 2)):
        (tmp_path / "d" / cls / "sub").mkdir(parents=True)
        _img(400, 300, seed).save(tmp_path / "d" / cls / "sub" / "a.jpg", quality=90)
    det = detector.load(str(tiny))
    items = data.list_items(tmp_path / "d")
    via_eval = evaluate.score_items(det, items)["p"]
    via_worker = det.score_images([preprocess.load_image(i.path) for i in items])
    assert np.array_equal(np.asarray(via_worker, dtype=float), via_eval)
    assert [i.source for i in items] == ["real/sub", "fake/sub"]


def test_robustness_one_batched_call(tiny, monkeypatch):
    det = detector.load(str(tiny))
    calls = []
    orig = det.members[0].predict
    monkeypatch.setattr(det.members[0], "predict", lambda b: calls.append(len(b)) or orig(b))
    imgs = [_img(500, 400), _img(300, 260, 3)]
    out = detector.robustness(det, [detector.perturbed(im, det.input_size) for im in imgs])
    assert len(calls) == 1  # both images, all crops and variants in one forward pass
    for (p, line), im in zip(out, imgs):
        assert p == pytest.approx(det.score_images([im])[0], abs=1e-6)  # the verdict's P uses every crop
        assert [o["perturbation"] for o in line] == list(detector.PERTURBATIONS)
        assert all(0 <= o["fake_probability"] <= 1 for o in line)


def test_evaluate_cli_writes_plot(tiny, tmp_path, capsys):
    for cls, seed in (("real", 1), ("fake", 2), ("real", 3), ("fake", 4)):
        (tmp_path / "d" / cls).mkdir(parents=True, exist_ok=True)
        _img(300, 300, seed).save(tmp_path / "d" / cls / f"{seed}.jpg")
    plot = tmp_path / "roc.png"
    assert evaluate.main([str(tmp_path / "d"), "--model", str(tiny), "--plot", str(plot)]) == 0
    assert plot.stat().st_size > 0 and "ROC-AUC" in capsys.readouterr().out


def test_shipped_ensemble_loads_with_its_cross_validated_thresholds():
    """The shipped spec: every member file present, thresholds those chosen by models.crossval."""
    spec = json.loads(SHIPPED.read_text())
    det = detector.load(str(SHIPPED))
    assert [m.name for m in det.members] == [m["name"] for m in spec["members"]]
    assert det.thresholds == spec["thresholds"] and det.thresholds["real"] < det.thresholds["fake"]
    assert det.weights == [m["weight"] for m in spec["members"]]
    for m, entry in zip(det.members, spec["members"]):
        assert m.version == detector.file_sha256(SHIPPED.parent / entry["file"])
    assert spec["threshold_rates_cross_fitted"]["real_called_fake"] <= 0.03


def test_attention_map_covers_normalised_image(tiny):
    det = detector.load(str(tiny)).primary
    img = _img(300, 200, 5)
    heat = detector.attention_map(det, img)
    w, h = preprocess.normalise(img, det.input_size).size
    assert heat.shape == (h, w) and heat.dtype == np.float32
    assert 0 <= heat.min() and heat.max() <= 1


def test_model_batch_setting_slices_the_forward_pass_without_changing_scores(tiny, tmp_path, monkeypatch):
    """MODEL_BATCH (a GPU wants larger batches) reaches every member the worker loads; the scores stay the same."""
    from shared.settings import Settings
    from worker.pipeline import Resources

    monkeypatch.setenv("MODEL_BATCH", "3")
    res = Resources(Settings.from_env(data_dir=tmp_path, model_path=tiny))
    det = res.detector
    import tensorflow as tf

    has_gpu = bool(tf.config.list_physical_devices("GPU"))
    assert res.device.startswith("GPU:0") if has_gpu else res.device == "CPU"
    member = det.members[0]
    assert member.batch == 3
    sizes = []
    forward = member._compiled_forward()
    member._forward = lambda x: sizes.append(len(x)) or forward(x)
    crops = np.random.default_rng(0).integers(0, 256, (7, 64, 64, 3), dtype=np.uint8)
    sliced = member.predict(crops)
    assert sizes == [3, 3, 1]
    member.batch, member._forward = 32, forward
    assert np.allclose(sliced, member.predict(crops), atol=1e-6)
    res.close()
