"""Decode an upload into an RGB image, with EXIF orientation applied and pixel limits enforced."""
from __future__ import annotations

import warnings
from pathlib import Path

from PIL import Image, ImageOps

from models import preprocess
from worker.errors import AnalysisError

try:
    from pillow_heif import register_heif_opener

    register_heif_opener()
except ImportError:  # pragma: no cover
    pass


def load_image(path: Path, max_pixels: int) -> Image.Image:
    """The image as RGB, upright; raises AnalysisError with a reason for anything unreadable."""
    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                if img.width * img.height > max_pixels:
                    raise AnalysisError(f"image is {img.width}x{img.height}; the limit is {max_pixels:,} pixels")
                img.seek(0)  # animated GIF/WebP/multi-page TIFF: the first frame
                img.load()
                upright = ImageOps.exif_transpose(img)
                return _to_rgb(upright)
    except AnalysisError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise AnalysisError(f"image has more pixels than the limit of {max_pixels:,}") from None
    except Image.UnidentifiedImageError:
        raise AnalysisError("not a readable image: no decoder recognised the file") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise AnalysisError(f"the image is truncated or corrupt: {exc}"[:300]) from None


def _to_rgb(img: Image.Image) -> Image.Image:
    """RGB as training and evaluation see it (models.preprocess.to_rgb), after widening 16/32-bit greys."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):  # 16/32-bit greyscale: scale to 8 bits first
        img = img.point(lambda v: v / 256).convert("L")
    if img.mode == "PA":
        img = img.convert("RGBA")
    return preprocess.to_rgb(img)


def thumbnail(img: Image.Image, path: Path, size: int = 256) -> None:
    """A small JPEG for the history page."""
    thumb = img.copy()
    thumb.thumbnail((size, size))
    path.parent.mkdir(parents=True, exist_ok=True)
    thumb.save(path, "JPEG", quality=80)
