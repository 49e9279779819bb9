"""JSON the pages' scripts poll, on the pages' own routes (the keyless local user, like the pages themselves).

The pages must not poll the keyed API: with REQUIRE_API_KEY=true and WEB_UI=true (the shipped compose file) the
API answers 401 to the browser, and a result page would wait for its verdict forever.
"""
from __future__ import annotations

from flask import abort, jsonify, request

from web.analyses.api import analysis_json
from web.analyses.pages import OWNER, analysis_or_404, bp
from web.batches import export
from web.batches import services as batches
from web.batches.api import batch_json
from web.core import params, schemas
from web.core.db import get_session


@bp.get("/analyses/<analysis_id>/status")
def analysis_status(analysis_id: str):
    """What the result page polls: the same body as GET /api/v1/analyses/<id> (private values hidden)."""
    return jsonify(analysis_json(analysis_or_404(analysis_id, with_result=True), OWNER))


def _batch_or_404(batch_id: str):
    found = batches.get(get_session(), batch_id, OWNER)
    if found is None:
        abort(404)
    return found


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
