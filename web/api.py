"""JSON API v1: submit an image, poll its analysis, list past analyses."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request, url_for

from web import serialize, services
from web.db import get_session
from web.errors import json_error

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.post("/analyses")
def create_analysis():
    """Accept one image (multipart field `file`); 202 with the analysis id and where to poll."""
    settings = current_app.config["SETTINGS"]
    try:
        analysis = services.submit(get_session(), request.files.get("file"), settings)
    except services.UploadError as exc:
        return json_error(exc.status, exc.message)
    body = serialize.summary(analysis)
    response = jsonify(body)
    response.status_code = 202
    response.headers["Location"] = url_for("api.get_analysis", analysis_id=analysis.id)
    return response


@bp.get("/analyses/<analysis_id>")
def get_analysis(analysis_id: str):
    """Status of one analysis and, when done, its full result."""
    analysis = services.get_analysis(get_session(), analysis_id, with_result=True)
    if analysis is None:
        return json_error(404, f"no analysis with id {analysis_id!r}")
    return jsonify(serialize.detail(analysis))


@bp.get("/analyses")
def list_analyses():
    """Past analyses, newest first, paginated with ?page= and ?per_page= (max 100)."""
    settings = current_app.config["SETTINGS"]
    page = request.args.get("page", 1, type=int)
    per_page = min(max(request.args.get("per_page", settings.page_size, type=int), 1), 100)
    result = services.list_analyses(get_session(), page, per_page)
    return jsonify({
        "items": [serialize.summary(a) for a in result.items],
        "page": result.page, "per_page": result.per_page, "total": result.total, "pages": result.pages,
    })
