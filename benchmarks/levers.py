"""The levers of issue 7, each measured on a small subset of the set (ms per image, medians).

Nothing here changes the service: each lever is timed as the service does the work today and as
it would with the change, on the same images, so the gain is an estimate before anyone edits code.
"""
from __future__ import annotations

import math
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from models import preprocess


def _ms(fn, repeat: int = 1):
    best, out = math.inf, None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return 1000 * best, out


def _med(rows: list[dict], key: str) -> float | None:
    vals = [r[key] for r in rows if r.get(key) is not None]
    return round(statistics.median(vals), 1) if vals else None


def draft_decode(path: str, short_side: int = preprocess.MAX_SIDE) -> Image.Image:
    """JPEG draft mode: let libjpeg decode at 1/2, 1/4 or 1/8 scale, keeping the short side >= short_side."""
    with Image.open(path) as im:
        w, h = im.size
        k = short_side / min(w, h)
        if im.format == "JPEG" and k < 1:
            im.draft("RGB", (math.ceil(w * k), math.ceil(h * k)))
        return ImageOps.exif_transpose(im).convert("RGB")


def attention_eager(det, img: Image.Image) -> np.ndarray:
    """The attention map as it was before the lever: a new gradient model and an eager tape per call."""
    import keras
    import tensorflow as tf

    from worker.detector import _last_feature_layer, stitch_cams

    base = np.asarray(preprocess.normalise(img, det.input_size))
    h, w = base.shape[:2]
    s = det.input_size
    boxes = preprocess.crop_boxes(w, h, s)
    crops = np.stack([base[y:y + s, x:x + s] for x, y in boxes]).astype(np.float32)
    grad_model = keras.Model(det.model.inputs, [_last_feature_layer(det.model).output, det.model.output])
    with tf.GradientTape() as tape:
        feats, out = grad_model(tf.convert_to_tensor(crops), training=False)
        score = tf.reshape(out, (len(crops), -1))[:, -1]
    grads = tape.gradient(score, feats)
    weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
    cams = tf.nn.relu(tf.reduce_sum(weights * feats, axis=-1)).numpy()
    return stitch_cams(cams, boxes, (h, w), s)


def _one(p: str, res, fwd, tmp: Path) -> tuple[dict, np.ndarray]:
    """Every lever's timings on one file."""
    from worker import decode, maps
    from worker.signals import forensics
    from worker.signals.content_credentials import c2pa_evidence
    from worker.signals.generator import generator_evidence
    from worker.signals.source_type import source_type_evidence
    from worker.signals.watermark import watermark_evidence

    det = res.detector.primary  # the content detector: the one with crops at model size and Grad-CAM
    r: dict = {"file": Path(p).name}
    r["decode_ms"], img = _ms(lambda: decode.load_image(Path(p), 10**9), 2)
    r["megapixels"] = round(img.width * img.height / 1e6, 2)
    r["normalise_full_ms"], _ = _ms(lambda: preprocess.normalise(img, det.input_size))
    r["decode_draft_ms"], small = _ms(lambda: draft_decode(p), 2)
    r["normalise_draft_ms"], _ = _ms(lambda: preprocess.normalise(small, det.input_size))
    p_full = det.score_images([img])[0]
    r["p_fake_draft_delta"] = round(abs(det.score_images([small])[0] - p_full), 4)
    tags = res.exif.read(Path(p))
    r["exiftool_ms"], _ = _ms(lambda: res.exif.read(Path(p)), 2)
    r["c2pa_ms"], _ = _ms(lambda: c2pa_evidence(p))
    r["source_generator_ms"], _ = _ms(lambda: source_type_evidence(tags) + generator_evidence(p, tags, img))
    r["watermark_ms"], _ = _ms(lambda: watermark_evidence(img))
    r["thumbnail_ms"], _ = _ms(lambda: decode.thumbnail(img, tmp / "t.jpg"))
    r["ela_ms"], _ = _ms(lambda: forensics.ela_map(img))
    r["noise_ms"], _ = _ms(lambda: forensics.noise_map(img))
    if hasattr(maps, "attention_overlay_map"):
        from worker.detector import attention_map

        r["attention_map_ms"], _ = _ms(lambda: maps.attention_overlay_map(det, img))
        small = preprocess.to_rgb(maps.reduced(img))
        r["gradcam_eager_ms"], slow = _ms(lambda: attention_eager(det, small))
        attention_map(det, small)  # trace once, outside the timing
        r["gradcam_compiled_ms"], fast = _ms(lambda: attention_map(det, small), 2)
        r["gradcam_max_abs_diff"] = round(float(np.abs(fast - slow).max()), 5)
    # the batch the pipeline itself sends to the model for this upload (whatever its robustness scheme)
    from benchmarks.inproc import count_crops
    from worker.pipeline import analyze_file

    seen = count_crops(det)
    try:
        analyze_file(Path(p), res)
    finally:
        del det.predict
    crops = np.concatenate(seen)
    scoring = det.crops(img)
    r["forward_passes"] = len(crops)
    r["forward_passes_original"] = len(scoring)
    r["predict_all_ms"], _ = _ms(lambda: det.predict(crops))
    r["compiled_all_ms"], _ = _ms(lambda: fwd(crops))
    r["predict_original_only_ms"], _ = _ms(lambda: det.predict(scoring))
    r["compiled_original_only_ms"], _ = _ms(lambda: fwd(scoring))
    return r, crops


def measure(paths: list[str], res, fwd) -> dict:
    """Per-image timings of each lever on `paths` (a handful, spanning the size bands)."""

    det = res.detector.primary  # the content detector: the one with crops at model size and Grad-CAM
    tmp = Path(tempfile.mkdtemp(prefix="bench-levers-"))
    try:
        done = [_one(p, res, fwd, tmp) for p in paths]
        rows, batches = [d[0] for d in done], [d[1] for d in done]
        db = _db_writes(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    exif_batch = _exiftool_batch(paths)
    keys = [k for k in rows[0] if k.endswith(("_ms", "_delta")) or k.startswith("forward")]
    return {"n": len(rows), "median": {k: _med(rows, k) for k in keys}, "per_image": rows,
            "exiftool_batch": exif_batch,
            "cross_image_batching": _cross_image(det, fwd, batches), "db_writes": db}


def _exiftool_batch(paths: list[str]) -> dict:
    """exiftool: one call per file (as the worker does) vs one call for all files, ms per file."""
    from exiftool import ExifTool

    with ExifTool(common_args=["-G", "-j"]) as et:
        et.execute(paths[0])
        per_file, _ = _ms(lambda: [et.execute(p) for p in paths], 2)
        batch, _ = _ms(lambda: et.execute(*paths), 2)
    return {"per_file_ms": round(per_file / len(paths), 1), "batched_ms": round(batch / len(paths), 1)}


def _cross_image(det, fwd, sets: list[np.ndarray]) -> dict:
    """Several uploads' model batches in one call vs one call per upload (ms per upload)."""
    n = len(sets)
    sep, _ = _ms(lambda: [det.predict(s) for s in sets])
    one, _ = _ms(lambda: det.predict(np.concatenate(sets)))
    csep, _ = _ms(lambda: [fwd(s) for s in sets])
    cone, _ = _ms(lambda: fwd(np.concatenate(sets)))
    return {"images": n, "crops": int(sum(len(s) for s in sets)), "predict_per_image_ms": round(sep / n, 1),
            "predict_batched_ms": round(one / n, 1), "compiled_per_image_ms": round(csep / n, 1),
            "compiled_batched_ms": round(cone / n, 1)}


def _db_writes(tmp: Path, n: int = 64) -> dict:
    """Writing n finished analyses (result JSON ~6 KB): one transaction each vs one per chunk of 32."""
    from shared.db import make_engine, make_sessionmaker
    from shared.migrate import upgrade
    from shared.models import Analysis

    url = f"sqlite:///{tmp / 'db.sqlite'}"
    upgrade(url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    result = {"evidence": [{"kind": "x" * 40, "detail": "y" * 200}] * 20, "timings": {"total_s": 1.0}}

    def rows() -> list[Analysis]:
        return [Analysis(filename="f.jpg", sha256=f"{i:064x}", media_type="image/jpeg", size_bytes=1, width=1,
                         height=1, status="done", verdict="real", result=result, file_metadata={"EXIF": {"A": 1}})
                for i in range(n)]

    def each() -> None:
        for a in rows():
            with sessions() as s:
                s.add(a)
                s.commit()

    def chunked() -> None:
        batch = rows()
        for i in range(0, n, 32):
            with sessions() as s:
                s.add_all(batch[i:i + 32])
                s.commit()

    t_each, _ = _ms(each)
    t_chunk, _ = _ms(chunked)
    engine.dispose()
    return {"rows": n, "per_row_commit_ms": round(t_each / n, 2), "chunk_of_32_ms": round(t_chunk / n, 2)}
