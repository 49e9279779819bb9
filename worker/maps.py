"""Write the forensic maps of one image next to its analysis: ELA, noise residual, model attention.

The attention map is the detector's Grad-CAM (``worker.detector.attention_map``) drawn as a
coloured overlay on the image. Grad-CAM's cost is the model's forward and backward pass on
its crops; the full-size resize is kept off it by box-reducing large images first (a 12 MP
photo on 2 busy cores: about 0.9-1.1 s without, 0.65-0.85 s with; see docs/evidence.md).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from models import preprocess
from worker.signals import forensics

log = logging.getLogger(__name__)

TITLES = {"ela": "Error level analysis", "noise": "Noise residual", "attention": "Model attention (Grad-CAM)"}
LABELS = {
    **forensics.MAP_LABELS,
    "attention": (
        "Model attention (Grad-CAM): where the detector's evidence for 'AI-generated' came from; warm colours "
        "mark the regions that raised its fake probability most. It shows where the model looked, not that "
        "anything there was generated or edited: every image gets a map, real photos included, and the "
        "colours are relative to the image's own strongest region whatever the probability. It is coarse "
        "(the shipped model: one cell per 32 px of a 224 px crop), and greyed-out areas lie outside the "
        "crops the detector scored."
    ),
}
# Colour ramp for heat 0..1: dark blue, cyan, yellow, red (brightness rises with heat up to yellow).
_RAMP = np.array([[20, 30, 140], [0, 190, 220], [250, 220, 30], [220, 20, 20]], dtype=np.float32)


def write_maps(img: Image.Image, folder: Path, det: Any = None) -> list[dict[str, str]]:
    """Compute each map, save it as PNG in `folder`, and describe it (name, title, what it can show).

    With ``det`` (a ``worker.detector.Detector``), also the model attention map; a model that
    cannot give one (no 4-D feature layer) is logged and skipped, never a failed analysis.
    """
    folder.mkdir(parents=True, exist_ok=True)
    src = forensics.analysis_copy(img)  # once for both maps
    made = [("ela", forensics.ela_map(src)), ("noise", forensics.noise_map(src))]
    if det is not None:
        try:
            made.append(("attention", attention_overlay_map(det, img)))
        except ValueError as exc:  # worker.detector raises it for a model without a feature map
            log.warning("no attention map: %s", exc)
    written = []
    for key, out in made:
        name = f"{key}.png"
        # zlib level 1: 0.35 s → 0.06 s for a noisy 1024 px ELA map, for files about 15 % larger
        out.save(folder / name, "PNG", compress_level=1)
        written.append({"name": name, "title": TITLES[key], "label": LABELS[key]})
    return written


def reduced(img: Image.Image, short_side: int = preprocess.MAX_SIDE) -> Image.Image:
    """Box-reduce by an integer factor keeping the short side >= short_side (cheap; the detector's
    own normalisation then does the last, exact resize)."""
    factor = min(img.size) // short_side
    return img.reduce(factor) if factor >= 2 else img


def attention_overlay_map(det: Any, img: Image.Image) -> Image.Image:
    """The detector's Grad-CAM of ``img`` as an RGB overlay at most OUTPUT_MAX_SIDE on its long side."""
    from worker.detector import attention_map

    small = preprocess.to_rgb(reduced(img))
    heat = attention_map(det, small)
    h, w = heat.shape
    covered = np.zeros((h, w), bool)
    for x, y in preprocess.crop_boxes(w, h, det.input_size):
        covered[y:y + det.input_size, x:x + det.input_size] = True
    # drawn over the image itself, not the model's reduced copy: the same size as the other maps and the
    # preview, and sharp when the map viewer zooms in (the heat is coarse anyway)
    return overlay(preprocess.to_rgb(img), heat, covered)


def overlay(img: Image.Image, heat: np.ndarray, covered: np.ndarray | None = None) -> Image.Image:
    """Blend a 0..1 heat map (any size, same aspect) over the image; uncovered areas shown in grey."""
    base = img.convert("RGB")
    if max(base.size) > forensics.OUTPUT_MAX_SIDE:
        base = base.copy()
        base.thumbnail((forensics.OUTPUT_MAX_SIDE, forensics.OUTPUT_MAX_SIDE), Image.Resampling.BILINEAR)
    size = base.size
    heat = np.clip(_resize(heat.astype(np.float32), size), 0.0, 1.0)
    mask = np.ones(heat.shape, bool) if covered is None else _resize(covered.astype(np.float32), size) >= 0.5
    pos = heat * (len(_RAMP) - 1)
    lo = np.minimum(pos.astype(int), len(_RAMP) - 2)
    frac = (pos - lo)[..., None]
    colour = _RAMP[lo] * (1 - frac) + _RAMP[lo + 1] * frac
    rgb = np.asarray(base, dtype=np.float32)
    alpha = (0.35 + 0.3 * heat)[..., None]  # the image stays visible under the hottest cells
    out = rgb * (1 - alpha) + colour * alpha
    grey = rgb.mean(axis=2, keepdims=True) * 0.6 + 40
    out = np.where(mask[..., None], out, grey)
    return Image.fromarray(np.clip(out, 0, 255).astype(np.uint8))


def _resize(values: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    if values.shape[::-1] == tuple(size):
        return values
    return np.asarray(Image.fromarray(values).resize(size, Image.Resampling.BILINEAR))
