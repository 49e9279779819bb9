"""JSON API v1: the report of one analysis (web/reports/services.py), the twin of its printable page."""
from __future__ import annotations

from flask import current_app, jsonify, request

from web.analyses import services
from web.core import auth
from web.core.blueprints import api_blueprint
from web.core.db import get_session
from web.core.errors import json_error
from web.core.openapi import responses, spec
from web.core.schemas import Private
from web.reports import services as report
from web.reports.schemas import Report

bp = api_blueprint("reports_api", __name__)


@bp.get("/analyses/<analysis_id>/report")
@spec.validate(query=Private, resp=responses(HTTP_200=Report))
def get_report(analysis_id: str):
    """One of the caller's analyses as a report to keep: file, times, verdict, model and thresholds, evidence, maps,
    labels and the service version (a purged analysis still has one, marked purged)."""
    session = get_session()
    analysis = services.get_analysis(session, analysis_id, auth.current_key(), with_result=True)
    if analysis is None:
        return json_error(404, f"no analysis with id {analysis_id!r}")
    return jsonify(report.make(session, analysis, current_app.config["SETTINGS"],
                               private=request.args.get("private") == "true"))
