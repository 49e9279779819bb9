"""The result page's preview: the upload upright (EXIF orientation applied), downscaled, as a JPEG.

Made once and stored beside the thumbnail (``PREVIEW_NAME`` among the upload's derived files), so serving it is a
file read: the worker encodes it from the image it decodes for the verdict (``encode``), before the analysis is
marked done. An analysis finished before previews were stored gets one made by the web on its first request
(``render``), but only when that decode is small (``FALLBACK_MAX_PIXELS``: a JPEG counts at the reduced DCT scale
``draft`` gives); a larger one is never decoded in the web. The stored file goes with the upload's other derived
files (delete, purge), so it cannot outlive them.
"""
from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageOps

from shared import limits
from shared.storage import Store

# The long side at most, in pixels. The forensic maps are drawn at the same size (worker/signals/forensics.py), so
# the map viewer lays a map over the preview pixel for pixel; 1600 px leaves detail to zoom into.
PREVIEW_SIDE = 1600
PREVIEW_NAME = "preview.jpg"
FALLBACK_MAX_PIXELS = 4 * 1024 * 1024  # what the web may decode for a preview: about 4 MP
limits.apply_to_pillow()

try:  # HEIC/HEIF uploads (the worker registers the same opener)
    from pillow_heif import register_heif_opener

    register_heif_opener()
except ImportError:  # pragma: no cover
    pass


class NoPreview(Exception):
    """The stored file cannot be previewed (should not happen for a file the worker decoded)."""


class TooCostly(NoPreview):
    """Making this preview would mean a decode larger than the caller allows."""


def encode(img: Image.Image, side: int = PREVIEW_SIDE) -> bytes:
    """JPEG bytes of an already upright image, its long side at most ``side`` px (the worker's decoded image)."""
    small = img.convert("RGBA" if img.mode in ("P", "PA", "LA", "La") else img.mode)  # a copy: img is kept
    small.thumbnail((side, side))
    out = io.BytesIO()
    _flatten(small).save(out, "JPEG", quality=85)
    return out.getvalue()


def render(path: Path, max_pixels: int, side: int = PREVIEW_SIDE, max_decode: int | None = None) -> bytes:
    """JPEG bytes of the image at ``path``, upright, its long side at most ``side`` px; never the original.

    With ``max_decode``, raises TooCostly instead of decoding more pixels than that (read from the header).
    """
    try:
        with limits.open_image(path, max_pixels) as img:
            img.draft("RGB", (side, side))  # JPEG: decode at 1/2, 1/4 or 1/8 scale when that is enough
            if max_decode is not None and img.width * img.height > max_decode:
                raise TooCostly(f"the image is {img.width}x{img.height} pixels: too large to preview here")
            return encode(ImageOps.exif_transpose(img), side)
    except limits.TooManyPixels as exc:
        raise NoPreview(str(exc)) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise NoPreview(f"the image has more pixels than the limit of {max_pixels:,}") from None
    except (ValueError, OSError, SyntaxError, EOFError) as exc:
        raise NoPreview(f"the stored image cannot be previewed ({exc.__class__.__name__})") from None


def save(store: Store, sha256: str, body: bytes) -> None:
    """Store a preview beside the upload's thumbnail and maps."""
    with store.derived_writer(sha256) as folder:
        (folder / PREVIEW_NAME).write_bytes(body)


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
