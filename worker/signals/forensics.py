"""Forensic maps: error level analysis and noise residual, as images to show next to the verdict.

Both are cheap (one JPEG encode or one median filter). An image up to ``ANALYSIS_MAX_SIDE`` on its long
side is analysed at its own pixels; a larger one has lost its pixel-level traces to any resize anyway, so it
is brought straight down to ``OUTPUT_MAX_SIDE`` (well under the work of 2048 px: the maps were 73 % of an
upload's time in the benchmark). Every map is returned at most ``OUTPUT_MAX_SIDE`` on its long side, the size of
the preview it is shown over. They are aids for a human eye, not detectors: the labels in ``MAP_LABELS`` say what
each can and cannot show.
"""
from __future__ import annotations

from io import BytesIO

import numpy as np
from PIL import Image, ImageFilter, ImageOps

from shared import preview
from worker.decode import to_rgb

ANALYSIS_MAX_SIDE = 2048
OUTPUT_MAX_SIDE = preview.PREVIEW_SIDE  # the map viewer overlays each map on the preview: the same geometry
ELA_QUALITY = 90

MAP_LABELS = {
    "ela": (
        "Error level analysis: the image re-saved as JPEG at quality 90 and the difference amplified. "
        "Regions that were pasted or edited after the last save can stand out as brighter or darker than "
        "similar texture around them. It cannot tell AI from real: edges and fine texture are always bright, "
        "a fully generated image is uniformly 'consistent', and re-compression or resizing (including ours: "
        f"images over {ANALYSIS_MAX_SIDE} px are analysed at {OUTPUT_MAX_SIDE} px) evens the levels out."
    ),
    "noise": (
        "Noise residual: the image minus a 3x3 median-filtered copy, amplified. Camera sensor noise is fine "
        "grained and even across flat areas; pasted, retouched or generated areas can look smoother or "
        "differently textured. It cannot prove anything alone: denoising, compression, resizing and strong "
        "texture all change the residual, and many generators imitate noise well."
    ),
}


def analysis_copy(img: Image.Image) -> Image.Image:
    """The upright RGB copy both maps work on (prepare it once for both): the image itself up to
    ANALYSIS_MAX_SIDE, else reduced to OUTPUT_MAX_SIDE (integer box reduction first, then Lanczos)."""
    if img.mode == "RGB" and max(img.size) <= ANALYSIS_MAX_SIDE:
        return img
    img = ImageOps.exif_transpose(img) if hasattr(img, "getexif") else img
    img = to_rgb(img)  # any mode Pillow decodes, 16-bit and float greys included
    if max(img.size) <= ANALYSIS_MAX_SIDE:
        return img
    factor = max(img.size) // (2 * OUTPUT_MAX_SIDE)
    if factor >= 2:
        img = img.reduce(factor)
    img = img.copy()
    img.thumbnail((OUTPUT_MAX_SIDE, OUTPUT_MAX_SIDE), Image.Resampling.LANCZOS)
    return img


def _to_map(values: np.ndarray) -> Image.Image:
    """Scale a non-negative float array to 0..255 by its 99.5th percentile and cap the size."""
    top = float(np.percentile(values, 99.5)) if values.size else 0.0
    scaled = np.clip(values * (255.0 / max(top, 1e-6)), 0, 255).astype(np.uint8)
    out = Image.fromarray(scaled)
    if max(out.size) > OUTPUT_MAX_SIDE:
        out.thumbnail((OUTPUT_MAX_SIDE, OUTPUT_MAX_SIDE), Image.Resampling.BILINEAR)
    return out


def ela_map(img: Image.Image, quality: int = ELA_QUALITY) -> Image.Image:
    """Error level analysis map (RGB): per-pixel difference from a JPEG re-save, amplified."""
    src = analysis_copy(img)
    buf = BytesIO()
    src.save(buf, "JPEG", quality=quality)
    buf.seek(0)
    with Image.open(buf) as resaved:
        diff = np.abs(np.asarray(src, dtype=np.int16) - np.asarray(resaved.convert("RGB"), dtype=np.int16))
    return _to_map(diff.astype(np.float32))


def noise_map(img: Image.Image) -> Image.Image:
    """Noise residual map (greyscale): luminance minus its 3x3 median, amplified."""
    grey = analysis_copy(img).convert("L")
    residual = np.abs(np.asarray(grey, dtype=np.int16) - np.asarray(grey.filter(ImageFilter.MedianFilter(3)), dtype=np.int16))
    return _to_map(residual.astype(np.float32))
