"""JSON API v1: batches of many images, their progress, exports and webhooks."""
from __future__ import annotations

from flask import Response, current_app, jsonify, request, url_for
from sqlalchemy import select

from shared.models import Analysis, Batch
from web.batches import export
from web.batches import services as batches
from web.core import auth, params, schemas, serialize
from web.core.blueprints import api_blueprint
from web.core.db import get_session
from web.core.errors import json_error
from web.core.openapi import documented, responses, spec

bp = api_blueprint("batches_api", __name__)


@bp.before_request
def _body_limit() -> None:
    """A batch's body limit, set before anything (the request models included) reads the body."""
    if request.endpoint == "batches_api.create_batch":
        request.max_content_length = current_app.config["SETTINGS"].max_batch_bytes + 1024 * 1024


def _batch_or_404(batch_id: str) -> Batch | Response:
    batch = batches.get(get_session(), batch_id, auth.current_key())
    return batch if batch is not None else json_error(404, f"no batch with id {batch_id!r}")


@bp.post("/batches")
@spec.validate(form=schemas.BatchUpload, headers=schemas.BatchHeaders,
               resp=responses(HTTP_202=schemas.BatchOut, HTTP_200=schemas.BatchOut))
def create_batch():
    """Many files (multipart `files`, or one ZIP) with optional `name`, `callback_url`, `Idempotency-Key`."""
    settings = current_app.config["SETTINGS"]
    files = request.files.getlist("files") + request.files.getlist("file")
    batch, created = batches.create(get_session(), files, settings, auth.current_key(), request.form.get("name"),
                                    request.form.get("callback_url"), request.headers.get("Idempotency-Key"),
                                    maps=request.form.get("maps", "").lower() in ("1", "true", "yes"))
    response = jsonify(serialize.batch_summary(batch, batches.counts(get_session(), batch)))
    response.status_code = 202 if created else 200
    response.headers["Location"] = url_for("batches_api.get_batch", batch_id=batch.id)
    if not created:
        response.headers["Idempotent-Replayed"] = "true"
    return response


@bp.get("/batches")
@spec.validate(query=schemas.Paging, resp=responses(HTTP_200=schemas.BatchList))
def list_batches():
    """The caller's batches, newest first, with their counts."""
    page, per_page = params.paging(request.args, current_app.config["SETTINGS"].page_size)
    found, counts = batches.listing(get_session(), auth.current_key(), page, per_page)
    return jsonify({"items": [serialize.batch_summary(b, counts[b.id]) for b in found.items], "page": found.page,
                    "per_page": found.per_page, "total": found.total, "pages": found.pages})


@bp.get("/batches/<batch_id>")
@spec.validate(query=schemas.Paging, resp=responses(HTTP_200=schemas.BatchOut))
def get_batch(batch_id: str):
    """Counts per state, progress, a page of its analyses, and webhook delivery attempts."""
    batch = _batch_or_404(batch_id)
    if isinstance(batch, Response):
        return batch
    return jsonify(batch_json(batch, *params.paging(request.args, 100)))


def batch_json(batch: Batch, page: int, per_page: int) -> dict:
    """A batch's state with one page of its analyses (the API and the batch page's poll)."""
    session = get_session()
    items = session.scalars(select(Analysis).where(Analysis.batch_id == batch.id)
                            .order_by(Analysis.created_at, Analysis.id).offset((page - 1) * per_page).limit(per_page))
    body = serialize.batch_summary(batch, batches.counts(session, batch))
    body["items"] = [serialize.summary(a) for a in items]
    body["page"], body["per_page"] = page, per_page
    body["webhook_deliveries"] = [serialize.delivery(d) for d in batches.deliveries(session, batch)]
    return body


@bp.get("/batches/<batch_id>/results")
@documented(query=schemas.ResultsFormat, resp=responses(HTTP_200=None))  # a streamed download
def batch_results(batch_id: str):
    """All results as ?format=csv (default), json or jsonl."""
    batch = _batch_or_404(batch_id)
    if isinstance(batch, Response):
        return batch
    return export.response(get_session(), batch, params.parse(schemas.ResultsFormat, request.args).format)


@bp.delete("/batches/<batch_id>")
@spec.validate(resp=responses(HTTP_204=None))
def delete_batch(batch_id: str):
    """Delete a batch with its analyses, maps and uploads."""
    batch = _batch_or_404(batch_id)
    if isinstance(batch, Response):
        return batch
    batches.delete(get_session(), batch, current_app.config["SETTINGS"], auth.current_key())
    return "", 204
