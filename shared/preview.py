"""The result page's preview: the stored upload upright (EXIF orientation applied), downscaled, as a JPEG.

Made on demand by the web from the stored upload rather than by the worker: the pipeline stays as it is (the
detector work on it is in flight elsewhere), analyses made before this existed get a preview too, and nothing is
written, so a preview can never outlive a purge or a delete as an orphan file (the browser caches it instead).
It is only made for analyses the worker finished, i.e. files already decoded once under the same pixel limit;
a JPEG is decoded at a reduced DCT scale (``draft``), so a 12 MP photo costs a fraction of a full decode.
"""
from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageOps

from shared import limits

PREVIEW_SIDE = 1024  # the long side at most, in pixels
limits.apply_to_pillow()

try:  # HEIC/HEIF uploads (the worker registers the same opener)
    from pillow_heif import register_heif_opener

    register_heif_opener()
except ImportError:  # pragma: no cover
    pass


class NoPreview(Exception):
    """The stored file cannot be previewed (should not happen for a file the worker decoded)."""


def render(path: Path, max_pixels: int, side: int = PREVIEW_SIDE) -> bytes:
    """JPEG bytes of the image at ``path``, upright, its long side at most ``side`` px; never the original."""
    try:
        with limits.open_image(path, max_pixels) as img:
            img.draft("RGB", (side, side))  # JPEG: decode at 1/2, 1/4 or 1/8 scale when that is enough
            upright = ImageOps.exif_transpose(img)
            upright = upright.convert("RGBA" if upright.mode in ("P", "PA", "LA", "La") else upright.mode)
            upright.thumbnail((side, side))
            rgb = _flatten(upright)
    except limits.TooManyPixels as exc:
        raise NoPreview(str(exc)) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise NoPreview(f"the image has more pixels than the limit of {max_pixels:,}") from None
    except (ValueError, OSError, SyntaxError, EOFError) as exc:
        raise NoPreview(f"the stored image cannot be previewed ({exc.__class__.__name__})") from None
    out = io.BytesIO()
    rgb.save(out, "JPEG", quality=85)
    return out.getvalue()


def _flatten(img: Image.Image) -> Image.Image:
    """RGB for JPEG: transparency over white, wide greys scaled to 8 bits by Pillow's own point()."""
    if img.mode in ("RGBA", "LA", "La", "RGBa"):
        background = Image.new("RGB", img.size, (255, 255, 255))
        background.paste(img.convert("RGBA"), mask=img.convert("RGBA").getchannel("A"))
        return background
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        img = img.convert("I")
    if img.mode in ("I", "F"):
        low, high = img.getextrema()
        scale = 255.0 / (high - low) if high > low else 0.0
        img = img.point(lambda v: (v - low) * scale, "F") if img.mode == "F" else img.point(
            lambda v: (v - low) * scale)
        img = img.convert("L")
    return img.convert("RGB")
