"""Validate and store uploaded files: bytes sniffed, size and pixel limits, names for display only."""
from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from PIL import Image
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from shared import cleanup, images, limits, storage
from shared.models import Analysis, Status, utcnow
from shared.settings import Settings

try:  # HEIC/HEIF headers; decoding happens in the worker
    from pillow_heif import register_heif_opener

    register_heif_opener()
except ImportError:  # pragma: no cover
    pass


class UploadError(Exception):
    """An upload refused with an HTTP status and a message for the user."""

    def __init__(self, status: int, message: str, retry_after: int | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after  # seconds, for a 503 that will pass


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
        raise UploadError(415, images.UNREADABLE) from None
    except Exception:  # Pillow's OSError, SyntaxError, struct.error...: the same answer, none of them helps a person
        raise UploadError(415, images.UNREADABLE) from None
    if width * height > settings.max_image_pixels:
        raise UploadError(413, f"image is {width}x{height} pixels; the limit is {settings.max_image_pixels:,}")
    try:
        limits.check_png_text(path)
    except limits.TooLarge as exc:
        raise UploadError(413, f"{exc} (decompression bomb or oversized metadata)") from None
    return width, height


def store(name: str | None, stream: BinaryIO, settings: Settings, created: list[str] | None = None) -> Analysis:
    """Validate and store one file; return its new (unsaved) queued analysis, or raise UploadError.

    The digest of a file this call wrote (rather than found already stored) is appended to `created`.
    """
    head = stream.read(64)
    kind = images.sniff(head)
    if kind is None:
        if not head:
            raise UploadError(400, images.EMPTY)
        raise UploadError(415, images.NOT_ACCEPTED)
    stream.seek(0)
    try:
        with storage.store_for(settings).incoming(stream, settings.max_upload_bytes) as item:
            width, height = _check_header(item.path, settings)  # a refused file is not stored
    except storage.TooLarge as exc:
        raise UploadError(413, str(exc)) from None
    sha, size = item.sha256, item.size
    if created is not None and item.created:
        created.append(sha)
    return Analysis(filename=display_name(name), sha256=sha, media_type=kind.media_type,
                    size_bytes=size, width=width, height=height)


def refused(name: str | None, reason: str) -> Analysis:
    """A batch item that could not be accepted: a failed analysis carrying the reason."""
    return Analysis(filename=display_name(name), sha256="", media_type="application/octet-stream", size_bytes=0,
                    status=Status.FAILED, error=reason, finished_at=utcnow())


@contextmanager
def no_orphans(session: Session, settings: Settings) -> Iterator[list[str]]:
    """Collect the digests `store()` writes; when the block ends, those no analysis row references are removed.

    So a request refused after storing files (409, 413, a bad field, a failed commit) leaves none behind, while
    one whose rows were committed (including a 503 with the upload kept for later) keeps them.
    """
    created: list[str] = []
    try:
        yield created
    except BaseException:
        session.rollback()
        raise
    finally:
        if created:
            try:
                cleanup.remove_unused(session, storage.store_for(settings), set(created))
            except SQLAlchemyError:  # the database is away: nothing can say whether the files are used, keep them
                session.rollback()
