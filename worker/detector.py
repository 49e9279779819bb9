"""The detectors and their ensemble; the only module of the service that imports TensorFlow/Keras.

``load()`` reads the ensemble once per process (after fork): ``models/ensemble.json`` names its
member detectors (Keras files beside it), how their scores combine, and the three-state
thresholds chosen by source-held-out cross-validation (``models.crossval``). Each member is a
``Detector``: ``predict(batch)`` of crops -> P(AI-generated), with its own crop kind (content
grid crops or most-textured patches) read from its sidecar. Any Keras binary classifier can
still be dropped in (.keras or .h5): it becomes an ensemble of one, its input size taken from
``model.input_shape`` and, without a sidecar, default thresholds.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from models import preprocess
from shared import model_version
from shared.model_version import file_sha256
from shared.settings import Settings
from shared.verdict import Thresholds, band

DEFAULT_MODEL = Path(__file__).resolve().parents[1] / "models" / "ensemble.json"
DEFAULT_THRESHOLDS = {"fake": 0.7, "real": 0.3}
PERTURBATIONS = ("original", "jpeg_q90", "jpeg_q75", "jpeg_q50", "scale_0.75", "scale_0.5")
BATCH = Settings.model_batch  # crops per forward pass unless the worker's settings say otherwise


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _logit(p):
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-7, 1 - 1e-7)
    return np.log(p / (1 - p))


def three_state(p: float, thresholds: dict) -> str:
    """'fake' / 'real' / 'uncertain' for a probability: the verdict's own bands (shared.verdict.band)."""
    side = band(p, Thresholds(model_fake=thresholds["fake"], model_real=thresholds["real"]))
    return "uncertain" if side == "between" else side


def image_probability(p: np.ndarray, crop_kind: str = "grid", rule: str = "crops") -> float:
    """One image's probability from the probabilities of the crops its detector scored, by the
    aggregation rule of its sidecar (``models.preprocess.aggregate``: the mean crop logit unless the
    detector scores several views)."""
    return float(_sigmoid(preprocess.aggregate(crop_kind, rule, _logit(p))))


class Detector:
    """A loaded model: ``predict`` crops -> calibrated P(fake); ``score_images`` whole images."""

    def __init__(self, model, version: str = "in-memory", meta: dict | None = None):
        self.model = model
        self.version = version
        self.meta = meta or {}
        self.name = str(self.meta.get("name") or getattr(model, "name", None) or "detector")
        self.crop_kind = str(self.meta.get("crops") or "grid")
        self.aggregate = str(self.meta.get("aggregate") or "crops")
        if self.crop_kind == "multiview" and self.aggregate not in preprocess.AGGREGATES:
            raise ValueError(f"unknown aggregation rule {self.aggregate!r} in the sidecar of {self.name}")
        shape = model.input_shape
        self.input_size = int(self.meta.get("input_size") or shape[1] or preprocess.INPUT_SIZE)
        self.thresholds = dict(self.meta.get("thresholds") or DEFAULT_THRESHOLDS)
        self.thresholds = {k: float(self.thresholds[k]) for k in ("fake", "real")}
        cal = self.meta.get("calibration") or {}
        self._platt = None if cal.get("applied_in_model", True) else (cal["a"], cal["b"])
        self.batch = BATCH  # the worker sets settings.model_batch (MODEL_BATCH)

    def _fit_size(self, batch: np.ndarray) -> np.ndarray:
        s = self.input_size
        h, w = batch.shape[1:3]
        if (h, w) == (s, s):
            return batch
        if h < s or w < s:
            imgs = [Image.fromarray(np.asarray(b, dtype=np.uint8)) for b in batch]
            return np.stack([preprocess.centre_crop(im, s) for im in imgs])
        y, x = (h - s) // 2, (w - s) // 2
        return batch[:, y:y + s, x:x + s]

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """(n,H,W,3) uint8/float 0..255 RGB -> calibrated P(AI-generated), shape (n,)."""
        batch = np.asarray(batch)
        if batch.ndim == 3:
            batch = batch[None]
        if len(batch) == 0:
            return np.zeros((0,), dtype=np.float32)
        x = self._fit_size(batch).astype(np.float32)
        forward = self._compiled_forward()
        # slices of at most `batch` crops: on 2 CPU cores 32 measured faster than one large call
        n = self.batch
        out = np.concatenate([np.asarray(forward(x[i:i + n]), dtype=np.float64).reshape(len(x[i:i + n]), -1)
                              for i in range(0, len(x), n)])
        p = out[:, -1] if out.shape[1] > 1 else out[:, 0]  # 2-way softmax: column 1 = AI
        if p.min() < 0 or p.max() > 1:  # a model that outputs logits
            p = _sigmoid(p)
        if self._platt:
            p = _sigmoid(self._platt[0] * _logit(p) + self._platt[1])
        return p.astype(np.float32)

    def _compiled_forward(self):
        """The model's forward pass traced once (model.predict re-plans every call: 90 ms vs 23 ms at batch 1)."""
        if getattr(self, "_forward", None) is None:
            import tensorflow as tf

            s = self.input_size
            self._forward = tf.function(lambda x: self.model(x, training=False), reduce_retracing=True,
                                        input_signature=[tf.TensorSpec([None, s, s, 3], tf.float32)])
        return self._forward

    def gradcam(self):
        """Grad-CAM of a crop batch: the gradient model built once and its tape traced once (612 → 73 ms)."""
        if getattr(self, "_gradcam", None) is None:
            import keras
            import tensorflow as tf

            grad_model = keras.Model(self.model.inputs, [_last_feature_layer(self.model).output, self.model.output])
            s = self.input_size

            @tf.function(input_signature=[tf.TensorSpec([None, s, s, 3], tf.float32)])
            def cams(x):
                with tf.GradientTape() as tape:
                    feats, out = grad_model(x, training=False)
                    score = tf.reshape(out, (tf.shape(x)[0], -1))[:, -1]
                grads = tape.gradient(score, feats)
                weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
                return tf.nn.relu(tf.reduce_sum(weights * feats, axis=-1))

            self._gradcam = cams
        return self._gradcam

    def crops(self, img: Image.Image, first_only: bool = False) -> np.ndarray:
        """The crops this detector scores for one image (shared preprocessing, by its crop kind)."""
        return preprocess.scored_crops(self.crop_kind, img, self.input_size, first_only)

    def score_crop_sets(self, crop_sets: list[np.ndarray], raw: bool = False) -> list:
        """One batched forward pass over several crop sets; per set, the image's probability by the
        detector's aggregation rule (or, with raw, the array of crop probabilities per set)."""
        if not crop_sets:
            return []
        p = self.predict(np.concatenate(crop_sets))
        bounds = np.cumsum([0] + [len(c) for c in crop_sets])
        sets = [p[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
        return sets if raw else [image_probability(s, self.crop_kind, self.aggregate) for s in sets]

    def score_images(self, imgs: list[Image.Image]) -> list[float]:
        """Calibrated P(AI-generated) per image: its crops in one batched pass, aggregated."""
        return self.score_crop_sets([self.crops(im) for im in imgs])

    def verdict(self, p: float) -> str:
        """'fake' / 'real' / 'uncertain' from the shipped thresholds."""
        return three_state(p, self.thresholds)


def perturbed(img: Image.Image, size: int = preprocess.INPUT_SIZE) -> dict[str, Image.Image]:
    """The robustness variants of an image, applied after the shared normalisation."""
    base = preprocess.normalise(img, size)
    out = {"original": base}
    for q in (90, 75, 50):
        out[f"jpeg_q{q}"] = preprocess.jpeg(base, q)
    for s in (0.75, 0.5):
        w, h = base.size
        out[f"scale_{s}"] = base.resize((max(1, round(w * s)), max(1, round(h * s))),
                                        Image.Resampling.LANCZOS)
    return out


@dataclass
class Scores:
    """One image's scores: the combined probability, each member's, and the robustness line."""

    fake_probability: float
    detectors: list[dict]
    line: list[dict]


class Ensemble:
    """Member detectors whose logits combine linearly: P = sigmoid(bias + sum w_i * logit(p_i)).

    The thresholds are the ensemble's own (they apply to the combined P). ``primary`` is the
    member whose attention map the result page shows (the first: the content detector).
    """

    def __init__(self, members: list[Detector], weights: list[float] | None = None, bias: float = 0.0,
                 thresholds: dict | None = None, version: str | None = None, meta: dict | None = None):
        self.members = members
        self.weights = [float(w) for w in (weights or [1.0 / len(members)] * len(members))]
        self.bias = float(bias)
        self.meta = meta or {}
        th = thresholds or (members[0].thresholds if len(members) == 1 else DEFAULT_THRESHOLDS)
        self.thresholds = {k: float(th[k]) for k in ("fake", "real", "camera") if k in th}
        self.version = version or members[0].version
        self.primary = members[0]
        self.input_size = self.primary.input_size

    def combine(self, member_p: list[float]) -> float:
        """The combined probability from the members' probabilities."""
        z = self.bias + sum(w * float(_logit(p)) for w, p in zip(self.weights, member_p))
        return float(_sigmoid(z))

    def score(self, variant_sets: list[dict[str, Image.Image]]) -> list[Scores]:
        """Per image (its ``perturbed`` variants): every member's P over all its crops, the
        combined P, and the robustness line, with one batched forward pass per member.

        The line re-scores each member's first crop (the centre crop, the most textured patch) as
        uploaded and after JPEG q90/q75/q50 and 0.75x/0.5x down-scaling, and combines them: six
        crops per member rather than six full crop sets.
        """
        n = 1 + len(PERTURBATIONS)
        per_member = []
        for det in self.members:
            sets = []
            for variants in variant_sets:
                sets.append(det.crops(variants["original"]))
                sets.extend(det.crops(variants[k], first_only=True) for k in PERTURBATIONS)
            per_member.append(det.score_crop_sets(sets))
        out = []
        for i in range(len(variant_sets)):
            ms = [flat[i * n:(i + 1) * n] for flat in per_member]
            detectors = [{"name": d.name, "version": d.version, "fake_probability": m[0], "weight": w}
                         for d, m, w in zip(self.members, ms, self.weights)]
            line = [{"perturbation": k, "fake_probability": self.combine([m[1 + j] for m in ms]), "crop": "first"}
                    for j, k in enumerate(PERTURBATIONS)]
            out.append(Scores(self.combine([m[0] for m in ms]), detectors, line))
        return out

    def score_images(self, imgs: list[Image.Image]) -> list[float]:
        """Combined P(AI-generated) per image (no robustness line)."""
        per_member = [d.score_images(imgs) for d in self.members]
        return [self.combine(list(ps)) for ps in zip(*per_member)]

    def verdict(self, p: float) -> str:
        """'fake' / 'real' / 'uncertain' from the ensemble's thresholds."""
        return three_state(p, self.thresholds)


def robustness(det: Ensemble, variant_sets: list[dict[str, Image.Image]]) -> list[tuple[float, list[dict]]]:
    """(combined P, robustness line) per image; see ``Ensemble.score``."""
    return [(s.fake_probability, s.line) for s in det.score(variant_sets)]


def read_sidecar(path) -> dict:
    """The model's sidecar JSON (same path, .json), or {}."""
    side = Path(path).with_suffix(".json")
    return json.loads(side.read_text()) if side.is_file() else {}


def load_member(path: str) -> Detector:
    """One Keras detector and its sidecar."""
    import keras

    model = keras.models.load_model(path, compile=False)
    return Detector(model, version=file_sha256(path), meta=read_sidecar(path))


@functools.lru_cache(maxsize=4)
def _load(path: str) -> Ensemble:
    if Path(path).suffix != ".json":
        return Ensemble([load_member(path)])
    spec = json.loads(Path(path).read_text())
    members = [load_member(str(Path(path).parent / m["file"])) for m in spec["members"]]
    return Ensemble(members, [m["weight"] for m in spec["members"]], spec.get("bias", 0.0), spec["thresholds"],
                    version=model_version.combine(Path(path).read_bytes(), [m.version for m in members]), meta=spec)


def load(path: str | None = None) -> Ensemble:
    """The detectors at path ($MODEL_PATH, else models/ensemble.json), loaded once per process.

    A .json is an ensemble spec; a .keras/.h5 file is a single detector (an ensemble of one)."""
    path = path or os.environ.get("MODEL_PATH") or str(DEFAULT_MODEL)
    return _load(str(Path(path).resolve()))


def use_gpu_if_present() -> str:
    """Let TensorFlow grow GPU memory as needed (several pool processes may share one card) and name
    the device the forward pass runs on: the first GPU TensorFlow sees, else the CPU.

    Call before the first model loads: memory growth cannot change once a GPU is initialised."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:  # already initialised in this process: keep its setting
            pass
    if not gpus:
        return "CPU"
    name = tf.config.experimental.get_device_details(gpus[0]).get("device_name", "")
    return f"GPU:0 {name}".strip()


def _last_feature_layer(model):
    for layer in reversed(model.layers):
        shape = getattr(layer, "output", None) is not None and layer.output.shape
        if shape is not None and len(shape) == 4:
            return layer
    raise ValueError("model has no 4-D feature map for Grad-CAM")


def attention_map(det: Detector, img: Image.Image) -> np.ndarray:
    """Grad-CAM of P(AI-generated) over the normalised image: float32 (H, W) in [0, 1].

    H, W are the size after ``preprocess.normalise`` (short side <= 512); each inference crop
    gets its own map from the last 4-D feature layer and overlapping crops are averaged.
    """
    base = np.asarray(preprocess.normalise(img, det.input_size))
    h, w = base.shape[:2]
    s = det.input_size
    boxes = preprocess.crop_boxes(w, h, s)
    crops = np.stack([base[y:y + s, x:x + s] for x, y in boxes]).astype(np.float32)
    return stitch_cams(det.gradcam()(crops).numpy(), boxes, (h, w), s)


def stitch_cams(cams: np.ndarray, boxes: list[tuple[int, int]], shape: tuple[int, int], s: int) -> np.ndarray:
    """Per-crop CAMs upsampled into place, overlaps averaged, scaled to [0, 1]."""
    acc, cnt = np.zeros(shape, np.float32), np.zeros(shape, np.float32)
    for cam, (x, y) in zip(cams, boxes):
        up = np.asarray(Image.fromarray(cam.astype(np.float32)).resize((s, s), Image.Resampling.BILINEAR))
        acc[y:y + s, x:x + s] += up
        cnt[y:y + s, x:x + s] += 1
    heat = acc / np.maximum(cnt, 1)
    return (heat / heat.max()).astype(np.float32) if heat.max() > 0 else heat
