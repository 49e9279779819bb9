"""Batch pages for the keyless local user: many files (a folder, a ZIP) from the upload page, a batch's live
progress (and the JSON its script polls, on the pages' own routes as the result page's), and past batches.

The upload page's script posts here with the session's CSRF token, as the single-file form does, never with an
API key: with REQUIRE_API_KEY=true the API would refuse the browser. It asks for JSON, so it can show the upload's
progress and the server's own 4xx message; the body is that of POST /api/v1/batches (schemas.BatchOut).
"""
from __future__ import annotations

from flask import abort, current_app, jsonify, redirect, render_template, request, url_for

from web.analyses import services
from web.analyses.pages import OWNER, upload_page
from web.analyses.uploads import UploadError
from web.batches import export
from web.batches import services as batches
from web.batches.api import batch_json
from web.core import params, schemas, serialize
from web.core.blueprints import page_blueprint
from web.core.db import get_session
from web.core.errors import json_error, wants_json
from web.reanalysis import services as reanalysis

bp = page_blueprint("batches", __name__)


@bp.post("/batches")
def create_batch():
    """Store the files (multipart `files`, ZIPs opened) as a batch, then its page (or its JSON, 202)."""
    session = get_session()
    try:
        batch, _ = batches.create(session, request.files.getlist("files"), current_app.config["SETTINGS"], OWNER,
                                  request.form.get("name"), None, None)
    except params.BadParam as exc:
        return _refused(UploadError(400, str(exc)))
    except UploadError as exc:
        return _refused(exc)
    if not wants_json():
        return redirect(url_for("batches.batch", batch_id=batch.id), code=303)
    response = jsonify(serialize.batch_summary(batch, batches.counts(session, batch)))
    response.status_code = 202
    response.headers["Location"] = url_for("batches.batch", batch_id=batch.id)
    return response


def _refused(exc: UploadError):
    return json_error(exc.status, exc.message) if wants_json() else upload_page(exc)


@bp.get("/batches")
def batch_list():
    """Past batches, newest first, with how many of their files are done, failed, and in all."""
    try:
        page_no, per_page = params.paging(request.args, current_app.config["SETTINGS"].page_size)
    except params.BadParam as exc:
        return render_template("error.html", status=400, message=str(exc)), 400
    page, counts = batches.listing(get_session(), OWNER, page_no, per_page)
    return render_template("batches.html", page=page, counts=counts,
                           args={"per_page": per_page} if request.args.get("per_page") else {})


def _batch_or_404(batch_id: str):
    found = batches.get(get_session(), batch_id, OWNER)
    if found is None:
        abort(404)
    return found


@bp.get("/batches/<batch_id>")
def batch(batch_id: str):
    """A batch with live progress: its script polls the batch status route and draws each file as it finishes."""
    found = _batch_or_404(batch_id)
    try:
        page_no, per_page = params.paging(request.args, 100)
    except params.BadParam as exc:
        return render_template("error.html", status=400, message=str(exc)), 400
    return render_template("batch.html", batch=found, counts=batches.counts(get_session(), found),
                           page=services.Page([], page_no, per_page, found.total),
                           **reanalysis.page_context(get_session(), found, current_app.config["SETTINGS"]))


@bp.get("/batches/<batch_id>/status")
def batch_status(batch_id: str):
    """What the batch page polls: the same body as GET /api/v1/batches/<id> (counts, a page of its items)."""
    found = _batch_or_404(batch_id)
    try:
        page, per_page = params.paging(request.args, 100)
    except params.BadParam as exc:
        abort(400, str(exc))
    return jsonify(batch_json(found, page, per_page))


@bp.get("/batches/<batch_id>/results")
def batch_results(batch_id: str):
    """The batch page's download links: ?format=csv (default), json or jsonl."""
    try:
        fmt = params.parse(schemas.ResultsFormat, request.args).format
    except params.BadParam as exc:
        abort(400, str(exc))
    return export.response(get_session(), _batch_or_404(batch_id), fmt)
