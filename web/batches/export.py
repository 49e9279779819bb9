"""Batch results as CSV, JSON or JSON Lines, streamed page by page."""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

from flask import Response, stream_with_context
from sqlalchemy import select
from sqlalchemy.orm import Session, undefer

from shared import spreadsheet
from shared.models import Analysis, Batch

FIELDS = ["id", "filename", "sha256", "status", "verdict", "level", "fake_probability", "scored", "metadata_score",
          "top_reasons", "model_version", "error", "reused_from", "reanalysis_of"]
FORMATS = {"csv": "text/csv", "json": "application/json", "jsonl": "application/x-ndjson"}


def rows(session: Session, batch: Batch, page_size: int = 500) -> Iterator[dict]:
    """One flat record per analysis of the batch, in submission order."""
    offset = 0
    while True:
        stmt = (select(Analysis).where(Analysis.batch_id == batch.id).options(undefer(Analysis.result))
                .order_by(Analysis.created_at, Analysis.id).offset(offset).limit(page_size))
        chunk = list(session.scalars(stmt))
        if not chunk:
            return
        for a in chunk:
            reasons = (a.result or {}).get("reasons", [])
            yield {"id": a.id, "filename": a.filename, "sha256": a.sha256, "status": a.status, "verdict": a.verdict,
                   "level": a.level, "fake_probability": a.fake_probability, "scored": a.scored,
                   "metadata_score": a.metadata_score,
                   "top_reasons": "; ".join(reasons[:3]), "model_version": a.model_version, "error": a.error,
                   "reused_from": a.reused_from, "reanalysis_of": a.reanalysis_of}
        offset += page_size


def render(records: Iterator[dict], fmt: str, fields: list[str] = FIELDS) -> Iterator[str]:
    """Serialise records lazily in the chosen format (CSV columns: fields)."""
    if fmt == "jsonl":
        for r in records:
            yield json.dumps(r) + "\n"
    elif fmt == "json":
        yield "["
        for i, r in enumerate(records):
            yield ("," if i else "") + json.dumps(r)
        yield "]\n"
    else:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=fields)
        writer.writeheader()
        for r in records:
            writer.writerow({k: spreadsheet.safe(v) for k, v in r.items()})
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
        yield buf.getvalue()


def stream(session: Session, chunks: Iterator[str], mimetype: str, filename: str) -> Response:
    """A streamed download that gives its database connection back when the body ends.

    The request's teardown closes the session before a streamed body is read; the body's queries then check a
    connection out again, which nothing would return to the pool (a pool of 15 would hang after 15 downloads).
    """
    def body() -> Iterator[str]:
        try:
            yield from chunks
        finally:
            session.close()

    resp = Response(stream_with_context(body()), mimetype=mimetype)
    resp.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return resp


def response(session: Session, batch: Batch, fmt: str) -> Response:
    """The streamed download of a batch's results (fmt already checked against FORMATS)."""
    return stream(session, render(rows(session, batch), fmt), FORMATS[fmt], f"batch-{batch.id}.{fmt}")
