"""What the views ask for: store an upload, commit its analysis, enqueue it; read analyses back."""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage

from shared import images, storage
from shared.models import Analysis
from shared.settings import Settings
from web import queue

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


def _display_name(name: str | None) -> str:
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
    except Exception as exc:
        raise UploadError(415, f"the file is not a readable image ({exc.__class__.__name__})") from None
    if width * height > settings.max_image_pixels:
        raise UploadError(413, f"image is {width}x{height} pixels; the limit is {settings.max_image_pixels:,}")
    return width, height


def store_upload(file: FileStorage | None, settings: Settings) -> Analysis:
    """Validate and store one uploaded file; return its (uncommitted, unsaved) analysis."""
    if file is None or not file.filename and not file.content_length:
        raise UploadError(400, "no file was sent: use the multipart field 'file'")
    head = file.stream.read(64)
    kind = images.sniff(head)
    if kind is None:
        raise UploadError(415, f"unsupported file type: accepted types are {images.ACCEPTED}")
    file.stream.seek(0)
    try:
        sha, size, path, created = storage.save_stream(file.stream, settings.upload_dir, settings.max_upload_bytes)
    except storage.TooLarge as exc:
        raise UploadError(413, str(exc)) from None
    try:
        width, height = _check_header(path, settings)
    except UploadError:
        if created:  # a refused file is not kept; one stored earlier belongs to another analysis
            path.unlink(missing_ok=True)
        raise
    return Analysis(filename=_display_name(file.filename), sha256=sha, media_type=kind.media_type,
                    size_bytes=size, width=width, height=height)


def submit(session: Session, file: FileStorage | None, settings: Settings) -> Analysis:
    """Store the upload, commit its analysis, then enqueue it (commit first, so the worker finds it)."""
    analysis = store_upload(file, settings)
    session.add(analysis)
    session.commit()
    try:
        queue.enqueue_analysis(analysis.id)
    except queue.QueueUnavailable as exc:
        # saved as queued; the worker's requeue sweep picks it up once the queue is back
        raise UploadError(503, f"{exc}; the upload is saved as analysis {analysis.id} and will run later") from None
    return analysis


def get_analysis(session: Session, analysis_id: str, *, with_result: bool = False,
                 with_metadata: bool = False) -> Analysis | None:
    """One analysis by id, loading the large JSON columns only when asked."""
    from sqlalchemy.orm import undefer

    stmt = select(Analysis).where(Analysis.id == analysis_id)
    if with_result:
        stmt = stmt.options(undefer(Analysis.result))
    if with_metadata:
        stmt = stmt.options(undefer(Analysis.file_metadata))
    return session.scalars(stmt).first()


@dataclass
class Page:
    items: list[Analysis]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def list_analyses(session: Session, page: int, per_page: int) -> Page:
    """Past analyses, newest first, one page of them."""
    page = max(1, page)
    total = session.scalar(select(func.count()).select_from(Analysis)) or 0
    stmt = (select(Analysis).order_by(Analysis.created_at.desc(), Analysis.id)
            .offset((page - 1) * per_page).limit(per_page))
    return Page(list(session.scalars(stmt)), page, per_page, total)
