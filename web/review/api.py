"""JSON API v1: reviewers' labels on analyses, the labels export and the audit record of deleted labels."""
from __future__ import annotations

from flask import jsonify, request, url_for

from shared import labels
from web.analyses import services
from web.core import auth, params
from web.core.blueprints import api_blueprint
from web.core.db import get_session
from web.core.errors import json_error
from web.core.openapi import documented, responses, spec
from web.review import schemas
from web.review import services as review

bp = api_blueprint("review_api", __name__)


@bp.post("/analyses/<analysis_id>/labels")
@spec.validate(json=schemas.LabelIn, resp=responses(HTTP_201=schemas.LabelOut))
def set_label(analysis_id: str):
    """Label one of the caller's analyses real, fake or unsure, with an optional note; earlier labels are kept."""
    session = get_session()
    analysis = services.get_analysis(session, analysis_id, auth.current_key())
    if analysis is None:
        return json_error(404, f"no analysis with id {analysis_id!r}")
    body = schemas.LabelIn.model_validate(request.get_json())
    row = review.set_label(session, analysis, body.label, body.note, auth.current_key())
    response = jsonify(review.label_json(row))
    response.status_code = 201
    response.headers["Location"] = url_for("review_api.get_labels", analysis_id=analysis_id)
    return response


@bp.get("/analyses/<analysis_id>/labels")
@spec.validate(resp=responses(HTTP_200=schemas.LabelHistory))
def get_labels(analysis_id: str):
    """The current label of one of the caller's analyses and its history, newest first."""
    session = get_session()
    analysis = services.get_analysis(session, analysis_id, auth.current_key())
    if analysis is None:
        return json_error(404, f"no analysis with id {analysis_id!r}")
    return jsonify(review.history_json(session, analysis))


@bp.get("/labels/deleted")
@spec.validate(query=schemas.Paging, resp=responses(HTTP_200=schemas.DeletedLabels))
def deleted_labels():
    """The audit record: labels of the caller's analyses that were since deleted, with who deleted them and when."""
    page, per_page = params.paging(request.args, 100)
    rows, total = labels.audit(get_session(), auth.current_key(), per_page, (page - 1) * per_page)
    return jsonify({"items": [review.audit_json(r) for r in rows], "total": total, "page": page,
                    "per_page": per_page})


@bp.get("/labels/export")
@documented(query=schemas.LabelsExportFormat, resp=responses(HTTP_200=None))  # a streamed download
def export_labels():
    """The caller's labelled analyses with their current label, as ?format=csv (default) or jsonl."""
    fmt = params.parse(schemas.LabelsExportFormat, request.args).format
    return review.export_response(get_session(), auth.current_key(), fmt)

