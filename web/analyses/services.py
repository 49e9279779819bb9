"""What the views ask for about analyses: submit one, read, list with filters, delete, find near-duplicates."""
from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO

from sqlalchemy import Select, func, not_, or_, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, undefer
from werkzeug.datastructures import FileStorage

from flask import Response, send_file

from shared import cleanup, labels, link_fetch, preview, storage
from shared.db import TRANSIENT_SQLSTATES
from shared.models import IN_FLIGHT_UPLOAD, Analysis, ApiKey, Maps, Status, WebhookDelivery, utcnow
from shared.settings import Settings
from web.core import queue

log = logging.getLogger(__name__)
from web.analyses.uploads import UploadError, no_orphans, store

@dataclass(frozen=True)
class Sort:
    """A history order: its column, and what the sort menu calls it descending ("-key") and ascending ("key")."""

    column: Any
    descending: str
    ascending: str


SORTS = {"created_at": Sort(Analysis.created_at, "newest first", "oldest first"),
         "fake_probability": Sort(Analysis.fake_probability, "most AI-like score first", "least AI-like score first"),
         "filename": Sort(Analysis.filename, "file name Z–A", "file name A–Z"),
         "verdict": Sort(Analysis.verdict, "verdict: uncertain, real, fake", "verdict: fake, real, uncertain")}


def owned(stmt: Select, owner: ApiKey | None, model: type = Analysis) -> Select:
    """Restrict a query of `model` rows to what `owner` may see; the anonymous user sees anonymous rows."""
    return stmt.where(model.api_key_id == owner.id if owner else model.api_key_id.is_(None))


@dataclass(frozen=True)
class Source:
    """Where a linked image came from: the URL as submitted, after redirects, and the address connected to."""

    url: str
    final_url: str
    address: str


def submit(session: Session, file: FileStorage | None, settings: Settings, owner: ApiKey | None = None,
           callback_url: str | None = None, source: Source | None = None) -> Analysis:
    """Store the upload, commit its analysis, then enqueue it (commit first, so the worker finds it).

    The same bytes already in flight for this owner (and callback) are not run again: the upload gets that
    analysis. The database's unique index on in-flight uploads decides between concurrent requests, whichever
    web process they reach; the loser rolls back and answers with the winner's analysis. `source`: the bytes
    came from a link (submit_link), recorded with the analysis.
    """
    if file is None:
        raise UploadError(400, "no file was sent: use the multipart field 'file'")
    with no_orphans(session, settings) as created:
        analysis = store(file.filename, file.stream, settings, created)
        analysis.api_key_id = owner.id if owner else None
        analysis.callback_url = callback_url
        if source is not None:
            analysis.source_url = source.url
            analysis.source_final_url = source.final_url
            analysis.source_address = source.address
        analysis.maps_state = Maps.PENDING  # a person is waiting: the worker queues them after the verdict
        if (running := in_flight(session, analysis)) is not None:
            return running
        session.add(analysis)
        try:
            session.commit()
        except IntegrityError:  # an identical upload was committed concurrently: share it
            session.rollback()
            if (running := in_flight(session, analysis)) is None:
                raise
            return running
    try:
        enqueue(session, [analysis.id])
    except queue.QueueUnavailable as exc:
        raise UploadError(503, f"{exc}; the upload is saved as analysis {analysis.id} and will run later") from None
    return analysis


def submit_link(session: Session, url: str, settings: Settings, owner: ApiKey | None = None,
                callback_url: str | None = None) -> Analysis:
    """Fetch the image a link points to (shared/link_fetch.py), then submit its bytes exactly as an upload.

    The fetch's refusals keep their status (400 a forbidden URL, 413, 422, 502, 504, 503 with Retry-After);
    the upload's own refusals (not an image, too many pixels...) keep their words, followed by the link's.
    """
    try:
        with link_fetch.slot(settings):
            fetched = link_fetch.fetch(url, settings, settings.max_upload_bytes)
    except link_fetch.LinkError as exc:
        raise UploadError(exc.status, exc.message, exc.retry_after) from None
    with fetched.body:
        file = FileStorage(stream=fetched.body, filename=fetched.filename)
        try:
            return submit(session, file, settings, owner, callback_url,
                          Source(fetched.url, fetched.final_url, fetched.address))
        except UploadError as exc:
            if exc.status in (400, 413, 415):
                said = f", Content-Type {fetched.content_type!r}" if fetched.content_type else ""
                exc.message = f"{exc.message} (the link {link_fetch.show(fetched.final_url)}{said})"
                exc.args = (exc.message,)
            raise


def in_flight(session: Session, upload: Analysis) -> Analysis | None:
    """The owner's unfinished single upload of the same bytes and callback (models.IN_FLIGHT_UPLOAD)."""
    return session.scalars(select(Analysis).where(
        IN_FLIGHT_UPLOAD, Analysis.sha256 == upload.sha256,
        func.coalesce(Analysis.api_key_id, 0) == (upload.api_key_id or 0),
        func.coalesce(Analysis.callback_url, "") == (upload.callback_url or ""))).first()


def enqueue(session: Session, ids: list[str], batch: bool = False) -> None:
    """Publish the jobs (a batch's on the bulk queue), then record that they reached the queue.

    Analyses left with enqueued_at NULL (the broker was down) are enqueued by the workers' sweep later.
    """
    queue.enqueue_analyses(ids, batch)
    try:
        session.execute(update(Analysis).where(Analysis.id.in_(sorted(ids))).values(enqueued_at=utcnow()))
        session.commit()
    except DBAPIError as exc:
        # The jobs are on the queue already; this is bookkeeping. A worker that took the rows' leases meanwhile
        # can make PostgreSQL abort one side (deadlock, serialisation): the request must not fail for it. A row
        # left without enqueued_at is sent again by the sweep, and its live lease makes that delivery a no-op.
        if getattr(exc.orig, "sqlstate", None) not in TRANSIENT_SQLSTATES:
            raise
        session.rollback()
        log.warning("enqueued_at not recorded for %d analyses: %s", len(ids), exc.orig)


def get_analysis(session: Session, analysis_id: str, owner: ApiKey | None = None, *, with_result: bool = False,
                 with_metadata: bool = False) -> Analysis | None:
    """One analysis the owner may see, loading the large JSON columns only when asked."""
    stmt = owned(select(Analysis).where(Analysis.id == analysis_id), owner)
    if with_result:
        stmt = stmt.options(undefer(Analysis.result))
    if with_metadata:
        stmt = stmt.options(undefer(Analysis.file_metadata))
    return session.scalars(stmt).first()


@dataclass
class Filters:
    """History filters, all optional (from query arguments)."""

    verdict: str | None = None
    level: str | None = None  # shared.levels name
    status: str | None = None
    filename: str | None = None
    batch_id: str | None = None
    has_provenance: bool | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    sort: str = "-created_at"
    label: str | None = None  # the current reviewer label
    disagrees: bool | None = None  # the current label contradicts the verdict (shared/labels.py)
    model_version: str | None = None  # the model version, or its first characters (pages show 12)

    def apply(self, stmt: Select) -> Select:
        if self.label or self.disagrees is not None:
            stmt = self._by_label(stmt)
        if self.verdict:
            stmt = stmt.where(Analysis.verdict == self.verdict)
        if self.level:
            stmt = stmt.where(Analysis.level == self.level)
        if self.status:
            stmt = stmt.where(Analysis.status == self.status)
        if self.filename:
            stmt = stmt.where(Analysis.filename.ilike(f"%{self.filename}%"))
        if self.batch_id:
            stmt = stmt.where(Analysis.batch_id == self.batch_id)
        if self.has_provenance is not None:
            stmt = stmt.where(Analysis.has_provenance.is_(self.has_provenance))
        if self.model_version:
            stmt = stmt.where(Analysis.model_version.startswith(self.model_version, autoescape=True))
        if self.created_after:
            stmt = stmt.where(Analysis.created_at >= self.created_after)
        if self.created_before:
            stmt = stmt.where(Analysis.created_at < self.created_before)
        return stmt

    def _by_label(self, stmt: Select) -> Select:
        current = labels.current().subquery()
        stmt = stmt.outerjoin(current, current.c.analysis_id == Analysis.id)
        if self.label:
            stmt = stmt.where(current.c.label == self.label)
        against = labels.disagrees(current.c.label, Analysis.verdict)
        if self.disagrees:
            stmt = stmt.where(against)
        elif self.disagrees is False:  # unlabelled or no verdict yet: nothing to disagree with
            stmt = stmt.where(or_(current.c.label.is_(None), Analysis.verdict.is_(None), not_(against)))
        return stmt

    def order(self, stmt: Select) -> Select:
        column = SORTS[self.sort.lstrip("-")].column
        primary = column.desc() if self.sort.startswith("-") else column.asc()
        return stmt.order_by(primary.nulls_last(), Analysis.created_at.desc(), Analysis.id)


@dataclass
class Page:
    items: list[Analysis]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def list_analyses(session: Session, page: int, per_page: int, owner: ApiKey | None = None,
                  filters: Filters | None = None) -> Page:
    """Past analyses the owner may see, filtered and sorted, one page of them."""
    filters = filters or Filters()
    page = max(1, page)
    base = filters.apply(owned(select(Analysis), owner))
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    stmt = filters.order(base).offset((page - 1) * per_page).limit(per_page)
    return Page(list(session.scalars(stmt)), page, per_page, total)


def model_versions(session: Session, owner: ApiKey | None) -> list[tuple[str, int]]:
    """The model versions of the owner's analyses with how many each made, most used first (the history filter)."""
    stmt = owned(select(Analysis.model_version, func.count()).where(Analysis.model_version.is_not(None)), owner)
    return [(v, n) for v, n in session.execute(stmt.group_by(Analysis.model_version)
                                               .order_by(func.count().desc(), Analysis.model_version))]


def delete_analysis(session: Session, analysis: Analysis, settings: Settings, owner: ApiKey | None) -> None:
    """Delete the row, its maps and its upload (unless another analysis has the same file); its labels go to the
    audit record, naming `owner` as who deleted it."""
    cleanup.delete_analyses(session, storage.store_for(settings), [analysis], labels.by(owner))


def deliveries(session: Session, analysis: Analysis) -> list[WebhookDelivery]:
    """Each attempt to deliver the analysis's own webhook, oldest first (a batch's item has the batch's)."""
    return list(session.scalars(select(WebhookDelivery).where(WebhookDelivery.analysis_id == analysis.id)
                                .order_by(WebhookDelivery.id)))


def similar(session: Session, analysis: Analysis, owner: ApiKey | None, max_distance: int = 6,
            scan: int = 5000) -> list[tuple[Analysis, int]]:
    """Earlier analyses of the same or a near-identical image (perceptual hash within max_distance bits)."""
    if not analysis.phash:
        return []
    target = int(analysis.phash, 16)
    stmt = owned(select(Analysis).where(Analysis.phash.is_not(None), Analysis.id != analysis.id,
                                        Analysis.created_at <= analysis.created_at), owner)
    found = []
    for other in session.scalars(stmt.order_by(Analysis.created_at.desc()).limit(scan)):
        distance = (int(other.phash, 16) ^ target).bit_count()
        if distance <= max_distance:
            found.append((other, distance))
    return sorted(found, key=lambda pair: (pair[1], -pair[0].created_at.timestamp()))[:20]


@dataclass
class Derived:
    """A thumbnail or map of one analysis, open for reading."""

    name: str
    file: BinaryIO
    etag: str


def derived_file(analysis: Analysis, name: str, settings: Settings) -> Derived | None:
    """The thumbnail or map `name` of an analysis, if it exists (names are checked, never trusted as paths)."""
    if not storage.DERIVED_NAME.match(name) or not analysis.sha256:
        return None
    fh = storage.store_for(settings).open_derived(analysis.sha256, name)
    return Derived(name, fh, f"{analysis.sha256[:16]}-{name}") if fh is not None else None


def request_maps(session: Session, analysis: Analysis) -> None:
    """Someone wants this analysis's maps (its result page, a map file): queue them, once.

    The conditional update makes one request the one that enqueues; a broker that is down leaves them
    asked for (pending) and the page still shows the verdict.
    """
    if analysis.status != Status.DONE or analysis.maps_state is not None or analysis.purged_at is not None:
        return
    asked = session.execute(update(Analysis).where(Analysis.id == analysis.id, Analysis.maps_state.is_(None))
                            .values(maps_state=Maps.PENDING)).rowcount
    session.commit()
    if asked:
        try:
            queue.enqueue_maps(analysis.id)
        except queue.QueueUnavailable:
            log.warning("could not queue the maps of %s", analysis.id, exc_info=True)


def derived_or_raise(session: Session, analysis: Analysis, name: str, settings: Settings) -> Derived:
    """The thumbnail or map `name`; asks for the maps if nobody had. 410 purged, 409 not made yet, 404 none."""
    if analysis.purged_at is not None:
        raise NoFile(410, f"the files of analysis {analysis.id} were purged; its verdict is kept")
    if analysis.maps_state == Maps.READY and (found := derived_file(analysis, name, settings)) is not None:
        return found
    if analysis.status == Status.DONE and analysis.maps_state in (None, Maps.PENDING, Maps.RUNNING):
        request_maps(session, analysis)
        raise NoFile(409, f"the maps of analysis {analysis.id} are being made; poll its status for maps_state")
    if analysis.maps_state == Maps.FAILED:
        raise NoFile(404, f"the maps of analysis {analysis.id} failed: {analysis.maps_error}")
    raise NoFile(404, f"no file {name!r} for analysis {analysis.id!r}")


def send_derived(found: Derived) -> Response:
    """Serve a derived image with its real type, privately cached.

    Streamed through the web rather than redirected to the object store: the authorisation above stays the only
    gate (a presigned URL is a bearer token that outlives a delete or purge), the store need not be reachable
    from browsers, and these files are small.
    """
    response = send_file(found.file, mimetype="image/png" if found.name.endswith(".png") else "image/jpeg",
                         max_age=3600, etag=found.etag, download_name=found.name)
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


class NoPreview(Exception):
    """Why an analysis has no preview (or thumbnail, or map), with the HTTP status that says it."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


NoFile = NoPreview  # a thumbnail or map that cannot be served: the same answer


def send_preview(analysis: Analysis, settings: Settings) -> Response:
    """The upright, downscaled JPEG of a finished analysis's upload (shared/preview.py); never the original.

    A file read of the preview the worker stored; one finished before previews were stored gets it made here once,
    only when that is a small decode. 410 once its files were purged (the verdict is kept), 409 before the worker
    has decoded it, 404 when it has none.
    """
    if analysis.purged_at is not None:
        raise NoPreview(410, f"the image of analysis {analysis.id} was purged; its verdict is kept")
    if analysis.status != Status.DONE:
        raise NoPreview(409, f"analysis {analysis.id} is {analysis.status}: only a finished analysis has a preview")
    files = storage.store_for(settings)
    fh = files.open_derived(analysis.sha256, preview.PREVIEW_NAME)
    if fh is None:
        fh = io.BytesIO(_make_preview(analysis, files, settings))
    return send_derived(Derived(preview.PREVIEW_NAME, fh, f"{analysis.sha256}-{preview.PREVIEW_SIDE}"))


def _make_preview(analysis: Analysis, files: storage.Store, settings: Settings) -> bytes:
    """The preview of an analysis finished before the worker stored them: made once under the web's decode bound."""
    with files.fetch([analysis.sha256]) as [path]:
        if not path.is_file():
            raise NoPreview(410, f"the image of analysis {analysis.id} is no longer stored")
        try:
            body = preview.render(path, settings.max_image_pixels, max_decode=preview.FALLBACK_MAX_PIXELS)
        except preview.TooCostly as exc:
            raise NoPreview(404, f"analysis {analysis.id} has no stored preview ({exc}); re-analyse it to get one") \
                from None
        except preview.NoPreview as exc:
            raise NoPreview(422, str(exc)) from None
    preview.save(files, analysis.sha256, body)
    return body
