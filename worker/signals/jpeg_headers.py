"""What a JPEG's headers say about the encoder: standard IJG-scaled quantisation tables, and the EXIF thumbnail.

A camera's encoder uses its maker's own quantisation tables; libjpeg, Pillow, browsers and most editors write
the example tables of the JPEG standard (ITU-T T.81 Annex K) scaled by a quality setting, the IJG way. Kee,
Johnson & Farid (2011) showed such header signatures tell camera originals from re-saved files. The thumbnail
a camera writes into EXIF IFD1 shows the scene it captured; an edit that keeps the old EXIF keeps the old
thumbnail. Every read here is bounded: the tables come from the header Pillow parses on open, the thumbnail
is at most one APP1 segment (64 KiB) and decoded only at a small size, the main image at 1/8 scale.
"""
from __future__ import annotations

from io import BytesIO

import numpy as np
from PIL import Image

from shared import limits

# ITU-T T.81 Annex K, tables K.1 (luminance) and K.2 (chrominance), in natural (row-major) order.
ANNEX_K_LUMA = (16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
                14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
                49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99)
ANNEX_K_CHROMA = (17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99, 99,
                  47, 66, 99, 99, 99, 99, 99, 99) + (99,) * 32
THUMB_MAX_BYTES = 65533  # an APP1 segment's payload: EXIF, thumbnail included, cannot be larger
THUMB_MAX_SIDE = 640
COMPARE_SIZE = (32, 32)
MATCH_MIN = 0.80  # correlation of the two 32x32 grey images; docs/evidence.md gives the measured spread


def ijg_table(base: tuple[int, ...], quality: int) -> tuple[int, ...]:
    """libjpeg's jpeg_set_quality scaling of a standard table (baseline: values clamped to 1..255)."""
    scale = 5000 // quality if quality < 50 else 200 - quality * 2
    return tuple(min(255, max(1, (v * scale + 50) // 100)) for v in base)


_IJG = {q: (ijg_table(ANNEX_K_LUMA, q), ijg_table(ANNEX_K_CHROMA, q)) for q in range(1, 101)}


def ijg_quality(tables: dict[int, list[int]]) -> int | None:
    """The IJG quality whose scaled Annex K tables these are (each value within 1: other encoders round
    differently), the closest one where several fit, or None for other tables."""
    luma, chroma = tables.get(0), tables.get(1)
    if not luma or len(luma) != 64 or (chroma is not None and len(chroma) != 64):
        return None
    off = {q: max(_off(luma, std_luma), _off(chroma, std_chroma) if chroma else 0)
           for q, (std_luma, std_chroma) in _IJG.items()}
    best = min(off, key=lambda q: (off[q], -q))
    return best if off[best] <= 1 else None


def _off(a, b) -> int:
    return max(abs(x - y) for x, y in zip(a, b))


def quantization(path: str) -> dict[int, list[int]] | None:
    """The JPEG's quantisation tables (natural order) as Pillow reads them from the header, or None."""
    try:
        with Image.open(path) as im:
            return {k: list(v) for k, v in im.quantization.items()} if im.format == "JPEG" else None
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None


def thumbnail_bytes(path: str, meta: dict) -> bytes | None:
    """The EXIF thumbnail's bytes, at the offset and length exiftool reports (one APP1 at most), or None."""
    try:
        offset, length = int(meta.get("EXIF:ThumbnailOffset")), int(meta.get("EXIF:ThumbnailLength"))
    except (TypeError, ValueError):
        return None
    if not (0 < length <= THUMB_MAX_BYTES and offset > 0):
        return None
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            data = fh.read(length)
    except OSError:
        return None
    return data if data[:2] == b"\xff\xd8" else None


def thumbnail_similarity(path: str, thumb: bytes, max_pixels: int) -> float | None:
    """Correlation in [-1, 1] of the thumbnail and the main image at 32x32 grey, or None when either won't decode."""
    try:
        with Image.open(BytesIO(thumb)) as t:
            if max(t.size) > THUMB_MAX_SIDE:
                return None
            small = t.convert("L")
        with limits.open_image(path, max_pixels) as im:
            im.draft("L", (small.width * 2, small.height * 2))  # JPEG: decoded at 1/2..1/8 scale
            main = im.convert("L")
    except (OSError, ValueError, SyntaxError, EOFError, limits.TooManyPixels, Image.DecompressionBombError,
            Image.DecompressionBombWarning):
        return None
    aspect = main.width / main.height
    if abs(small.width / small.height * aspect - 1) <= 0.04 and abs(aspect - 1) > 0.04:
        candidates = [small.transpose(Image.ROTATE_90), small.transpose(Image.ROTATE_270)]  # turned 90 degrees
    else:
        candidates = [_unpad(small, aspect)]
    if candidates[0] is None:
        return -1.0  # a different shape: cropped after capture
    b = _grey(main)
    return max(_correlation(_grey(c), b) for c in candidates)


def _grey(im: Image.Image) -> np.ndarray:
    v = np.asarray(im.resize(COMPARE_SIZE, Image.BILINEAR), dtype=np.float32).ravel()
    return v - v.mean()


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    denom = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / denom) if denom > 1e-6 else (1.0 if np.abs(a - b).max() < 8 else 0.0)


def _unpad(thumb: Image.Image, aspect: float, tol: float = 0.04) -> Image.Image | None:
    """The thumbnail cut to the image's aspect where a DCF camera padded it to 160x120, or None if it differs."""
    ratio = thumb.width / thumb.height
    if abs(ratio - aspect) / aspect <= tol:
        return thumb
    if ratio > aspect:  # letterboxed left and right
        w = round(thumb.height * aspect)
        box = ((thumb.width - w) // 2, 0, (thumb.width + w) // 2, thumb.height)
    else:  # letterboxed top and bottom
        h = round(thumb.width / aspect)
        box = (0, (thumb.height - h) // 2, thumb.width, (thumb.height + h) // 2)
    if sorted(thumb.size) != [120, 160]:
        return None
    cut = thumb.crop(box)
    return cut if cut.width >= 8 and cut.height >= 8 else None
