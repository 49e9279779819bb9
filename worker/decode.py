"""Decode an upload into an RGB image, with EXIF orientation applied and pixel limits enforced."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from models import preprocess
from shared import limits
from worker.errors import AnalysisError

WIDE_GREY = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")
# The largest image the detector's normalisation may make (50 MB as RGB): a 224 px short side with a 334:1
# aspect ratio, where a real panorama (a 512 px short side) stays far below it.
NORMALISED_MAX_PIXELS = 4096 * 4096
limits.apply_to_pillow()

try:
    from pillow_heif import register_heif_opener

    register_heif_opener()
except ImportError:  # pragma: no cover
    pass


def load_image(path: Path, max_pixels: int) -> Image.Image:
    """The image as RGB, upright; raises AnalysisError with a reason for anything unreadable."""
    try:
        with limits.open_image(path, max_pixels) as img:
            img.load()
            upright = ImageOps.exif_transpose(img)
            return to_rgb(upright)
    except limits.TooManyPixels as exc:
        raise AnalysisError(str(exc)) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise AnalysisError(f"image has more pixels than the limit of {max_pixels:,}") from None
    except Image.UnidentifiedImageError:
        raise AnalysisError("not a readable image: no decoder recognised the file") from None
    except ValueError as exc:
        if "text chunk" in str(exc).lower() or "decompressed data too large" in str(exc).lower():
            raise AnalysisError(f"a metadata chunk decompresses to more than the limit of {limits.TEXT_MAX_BYTES:,} "
                                "bytes (a decompression bomb)") from None
        raise AnalysisError(f"the image is truncated or corrupt: {exc}"[:300]) from None
    except (OSError, SyntaxError, EOFError) as exc:
        raise AnalysisError(f"the image is truncated or corrupt: {exc}"[:300]) from None


def check_upscale(img: Image.Image, size: int) -> None:
    """Refuse a sliver the detector would blow up: its normalisation brings the short side up to
    ``size`` px and the long side with it, so a 20000x1 PNG of a few hundred bytes became a
    224 x 4,480,000 image (4.4 GB, and as much again for each robustness variant)."""
    short, long = min(img.size), max(img.size)
    if short < size and long * size // short * size > NORMALISED_MAX_PIXELS:
        raise AnalysisError(f"the image is {img.width}x{img.height}: scaled up to the detector's {size} px on its "
                            f"short side it would have {long * size // short * size:,} pixels, over the limit of "
                            f"{NORMALISED_MAX_PIXELS:,} (too narrow to analyse)")


def to_rgb(img: Image.Image) -> Image.Image:
    """RGB as training and evaluation see it (models.preprocess.to_rgb), from any mode Pillow decodes.

    Greys wider than 8 bits (I;16, I;16B, I;16L, I, F) are brought to 8 bits first: Pillow's own
    conversions clip them (and refuse I;16B), which would turn most of them white or black.
    """
    if img.mode in WIDE_GREY:
        img = Image.fromarray(_grey_to_8bit(np.asarray(img)), "L")
    elif img.mode == "PA":
        img = img.convert("RGBA")
    return preprocess.to_rgb(img)


def _grey_to_8bit(values: np.ndarray) -> np.ndarray:
    """16-bit data (whatever its container) by its full 0..65535 scale; floats in 0..1 by that; any
    other range (negative, 32-bit, HDR) stretched from its own minimum to its maximum."""
    if values.size == 0:
        return values.astype(np.uint8)
    if values.dtype.kind == "f":
        values = np.nan_to_num(values.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    low, high = values.min().item(), values.max().item()
    if values.dtype.kind in "ui" and low >= 0 and high <= 65535:
        return (values >> 8).astype(np.uint8)
    if values.dtype.kind == "f" and low >= 0 and high <= 1:
        low, high = 0.0, 1.0
    scale = 255.0 / (high - low) if high > low else 0.0
    return np.clip((values.astype(np.float32) - low) * scale, 0, 255).astype(np.uint8)


def thumbnail(img: Image.Image, path: Path, size: int = 256) -> None:
    """A small JPEG for the history page."""
    thumb = img.copy()
    thumb.thumbnail((size, size))
    path.parent.mkdir(parents=True, exist_ok=True)
    thumb.save(path, "JPEG", quality=80)
