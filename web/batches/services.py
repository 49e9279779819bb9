"""Batches: many files (or one ZIP) in one request, idempotent by key, exported when done."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage

from shared import archive, callbacks, cleanup, labels, outbox, storage
from shared.models import Analysis, ApiKey, Batch, Maps, Status, WebhookDelivery, WebhookEvent
from shared.settings import Settings
from web.analyses.services import Page, enqueue, owned
from web.analyses.uploads import UploadError, no_orphans, refused, store
from web.core import queue
from web.core.params import IDEMPOTENCY_KEY_MAX, text_field
from web.core.schemas import BATCH_NAME_MAX


def check_callback(url: str | None, settings: Settings) -> str | None:
    """A webhook URL must be absolute http(s) and resolve to public addresses (unless WEBHOOK_ALLOW_PRIVATE)."""
    if not url:
        return None
    text_field(url, "callback_url")
    try:
        callbacks.resolve(url, settings.webhook_allow_private)
    except callbacks.Refused as exc:
        raise UploadError(400, str(exc)) from None
    return url


def max_batch_files(owner: ApiKey | None, settings: Settings) -> int:
    """How many files one batch of this key (or of the keyless user) may hold."""
    return owner.max_batch_files if owner else settings.max_batch_files


def _items(files: list[FileStorage], settings: Settings, max_files: int) -> Iterator[tuple[str, object]]:
    """(name, stream-or-error) for each file sent, ZIP archives opened."""
    count = 0
    for file in files:
        head = file.stream.read(8)
        file.stream.seek(0)
        if archive.is_zip(head):
            try:
                for entry in archive.entries(file.stream, max_files, settings.max_upload_bytes,
                                             settings.max_batch_bytes):
                    count += 1
                    yield entry.name, entry.stream if entry.stream is not None else entry.error
            except archive.ArchiveError as exc:
                raise UploadError(413 if "limit" in str(exc) or "more than" in str(exc) else 400,
                                  f"{file.filename}: {exc}") from None
        else:
            count += 1
            yield file.filename, file.stream
        if count > max_files:
            raise UploadError(413, f"a batch may hold at most {max_files} files")


def create(session: Session, files: list[FileStorage], settings: Settings, owner: ApiKey | None,
           name: str | None, callback_url: str | None, idempotency_key: str | None,
           maps: bool = False) -> tuple[Batch, bool]:
    """Store every file, commit the batch with one analysis per file, enqueue in chunks.

    Returns (batch, created); an earlier batch with the same idempotency key and body comes back with
    created=False. A file that is not an image becomes a failed analysis with its reason. With `maps`, each
    item's maps are queued after its verdict; otherwise when someone opens its result page or a map file.
    """
    if not files:
        raise UploadError(400, "no files were sent: use the multipart field 'files' (or one ZIP archive)")
    max_files = max_batch_files(owner, settings)
    callback_url = check_callback(callback_url, settings)
    name = text_field(name, "name")
    idempotency_key = text_field(idempotency_key, "Idempotency-Key", IDEMPOTENCY_KEY_MAX)
    with no_orphans(session, settings) as created:
        analyses: list[Analysis] = []
        for item_name, stream in _items(files, settings, max_files):
            if isinstance(stream, str):
                analyses.append(refused(item_name, stream))
                continue
            try:
                analyses.append(store(item_name, stream, settings, created))
            except UploadError as exc:
                analyses.append(refused(item_name, exc.message))
        for a in (analyses if maps else []):
            a.maps_state = None if a.status == Status.FAILED else Maps.PENDING  # refused files have no verdict
        batch, is_new = _save(session, owner, analyses, name, callback_url, idempotency_key)
    if is_new:
        enqueue_items(session, batch, analyses)
    return batch, is_new


def _save(session: Session, owner: ApiKey | None, analyses: list[Analysis], name: str | None,
          callback_url: str | None, idempotency_key: str | None) -> tuple[Batch, bool]:
    """Commit the batch with its analyses, or find the earlier batch of the same Idempotency-Key."""
    digest = hashlib.sha256(json.dumps([name, callback_url, [(a.filename, a.sha256, a.error) for a in analyses]])
                            .encode()).hexdigest()
    if idempotency_key:
        earlier = by_idempotency_key(session, owner, idempotency_key)
        if earlier is not None:
            return replay(earlier, digest)
    batch = Batch(api_key_id=owner.id if owner else None, name=(name or "")[:BATCH_NAME_MAX] or None,
                  callback_url=callback_url, idempotency_key=idempotency_key, request_sha256=digest,
                  total=len(analyses))
    session.add(batch)
    try:
        session.flush()
    except IntegrityError:  # the same key arrived concurrently: answer with that batch
        session.rollback()
        return replay(by_idempotency_key(session, owner, idempotency_key), digest)
    for a in analyses:
        a.batch_id, a.api_key_id = batch.id, batch.api_key_id
    session.add_all(analyses)
    if all(a.status == Status.FAILED for a in analyses):
        batch.finished_at = analyses[0].finished_at
        if callback_url:
            outbox.add(session, "batch", batch.id, callback_url)
    session.commit()
    return batch, True


def enqueue_items(session: Session, batch: Batch, analyses: list[Analysis]) -> None:
    """Enqueue the batch's queued analyses on the bulk queue; 503 (the batch is saved) when the broker is down."""
    queued = [a.id for a in analyses if a.status == Status.QUEUED]
    try:
        if queued:
            enqueue(session, queued, batch=True)
    except queue.QueueUnavailable as exc:
        raise UploadError(503, f"{exc}; batch {batch.id} is saved and will run later") from None


def by_idempotency_key(session: Session, owner: ApiKey | None, key: str) -> Batch | None:
    return session.scalars(owned(select(Batch).where(Batch.idempotency_key == key), owner, Batch)).first()


def replay(batch: Batch, digest: str) -> tuple[Batch, bool]:
    if batch.request_sha256 != digest:
        raise UploadError(409, "this Idempotency-Key was already used with a different request body")
    return batch, False


def get(session: Session, batch_id: str, owner: ApiKey | None) -> Batch | None:
    return session.scalars(owned(select(Batch).where(Batch.id == batch_id), owner, Batch)).first()


def counts(session: Session, batch: Batch) -> dict[str, int]:
    """How many of the batch's analyses are in each state."""
    return counts_of(session, [batch.id])[batch.id]


def counts_of(session: Session, batch_ids: list[str]) -> dict[str, dict[str, int]]:
    """counts() of several batches in one query (a listing page)."""
    found: dict[str, dict[str, int]] = {i: {} for i in batch_ids}
    if batch_ids:
        rows = session.execute(select(Analysis.batch_id, Analysis.status, func.count())
                               .where(Analysis.batch_id.in_(batch_ids)).group_by(Analysis.batch_id, Analysis.status))
        for batch_id, status, n in rows:
            found[batch_id][status] = int(n)
    return {i: {s: c.get(s, 0) for s in (Status.QUEUED, Status.RUNNING, Status.DONE, Status.FAILED)}
            for i, c in found.items()}


def listing(session: Session, owner: ApiKey | None, page: int, per_page: int) -> tuple[Page, dict[str, dict]]:
    """One page of the owner's batches, newest first, with the counts of each."""
    base = owned(select(Batch), owner, Batch)
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    rows = list(session.scalars(base.order_by(Batch.created_at.desc(), Batch.id.desc())
                                .offset((page - 1) * per_page).limit(per_page)))
    return Page(rows, page, per_page, total), counts_of(session, [b.id for b in rows])


def deliveries(session: Session, batch: Batch) -> list[WebhookDelivery]:
    return list(session.scalars(select(WebhookDelivery).where(WebhookDelivery.batch_id == batch.id)
                                .order_by(WebhookDelivery.id)))


def delete(session: Session, batch: Batch, settings: Settings, owner: ApiKey | None) -> int:
    """Delete a batch, its analyses (their labels go to the audit record), and the files no other analysis shares."""
    items = list(session.scalars(select(Analysis).where(Analysis.batch_id == batch.id)))
    session.query(WebhookDelivery).filter(WebhookDelivery.batch_id == batch.id).delete()
    session.query(WebhookEvent).filter(WebhookEvent.kind == "batch", WebhookEvent.object_id == batch.id).delete()
    n = cleanup.delete_analyses(session, storage.store_for(settings), items, labels.by(owner))
    session.execute(update(Batch).where(Batch.reanalysis_of == batch.id).values(reanalysis_of=None))
    session.delete(batch)
    session.commit()
    return n
