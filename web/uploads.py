"""Validate and store uploaded files: bytes sniffed, size and pixel limits, names for display only."""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import BinaryIO

from PIL import Image

from shared import images, storage
from shared.models import Analysis, Status, utcnow
from shared.settings import Settings

try:  # HEIC/HEIF headers; decoding happens in the worker
    from pillow_heif import register_heif_opener

    register_heif_opener()
except ImportError:  # pragma: no cover
    pass


class UploadError(Exception):
    """An upload refused with an HTTP status and a message for the user."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def display_name(name: str | None) -> str:
    """The client's file name, kept for display only (never used as a path)."""
    name = (name or "upload").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return name[:200] or "upload"


def _check_header(path: Path, settings: Settings) -> tuple[int, int]:
    """Read only the image header: refuse what Pillow cannot identify and pixel bombs."""
    Image.MAX_IMAGE_PIXELS = settings.max_image_pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                width, height = img.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UploadError(413, f"image has too many pixels (limit {settings.max_image_pixels:,})") from None
    except ValueError as exc:
        if "decompressed data too large" in str(exc).lower():
            raise UploadError(413, "a metadata chunk decompresses to more than the limit (decompression bomb)") from None
        raise UploadError(415, f"the file is not a readable image ({exc})"[:300]) from None
    except Exception as exc:
        raise UploadError(415, f"the file is not a readable image ({exc.__class__.__name__})") from None
    if width * height > settings.max_image_pixels:
        raise UploadError(413, f"image is {width}x{height} pixels; the limit is {settings.max_image_pixels:,}")
    return width, height


def store(name: str | None, stream: BinaryIO, settings: Settings) -> Analysis:
    """Validate and store one file; return its new (unsaved) queued analysis, or raise UploadError."""
    head = stream.read(64)
    kind = images.sniff(head)
    if kind is None:
        if not head:
            raise UploadError(400, "the file is empty")
        raise UploadError(415, f"unsupported file type: accepted types are {images.ACCEPTED}")
    stream.seek(0)
    try:
        sha, size, path, created = storage.save_stream(stream, settings.upload_dir, settings.max_upload_bytes)
    except storage.TooLarge as exc:
        raise UploadError(413, str(exc)) from None
    try:
        width, height = _check_header(path, settings)
    except UploadError:
        if created:  # a refused file is not kept; one stored earlier belongs to another analysis
            path.unlink(missing_ok=True)
        raise
    return Analysis(filename=display_name(name), sha256=sha, media_type=kind.media_type,
                    size_bytes=size, width=width, height=height)


def refused(name: str | None, reason: str) -> Analysis:
    """A batch item that could not be accepted: a failed analysis carrying the reason."""
    return Analysis(filename=display_name(name), sha256="", media_type="application/octet-stream", size_bytes=0,
                    status=Status.FAILED, error=reason, finished_at=utcnow())
