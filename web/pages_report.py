"""The printable report page of an analysis for the keyless local user, and its JSON (like the result page's poll,
on the pages' own routes: the keyed API may answer the browser 401)."""
from __future__ import annotations

import itertools
import json
from datetime import datetime
from typing import Any

from flask import jsonify, render_template, request

from shared.verdict import probability_text
from web import report
from web.db import get_session
from web.pages import _settings, analysis_or_404, bp

VALUE_MAX = 300  # characters of an evidence value on paper; the JSON has it whole


def _report(analysis_id: str) -> dict:
    analysis = analysis_or_404(analysis_id, with_result=True)
    return report.make(get_session(), analysis, _settings(), private=request.args.get("private") == "true")


@bp.get("/analyses/<analysis_id>/report")
def report_page(analysis_id: str):
    """The report as a page to print or save as PDF (print styles: A4, no navigation)."""
    return render_template("report.html", r=_report(analysis_id), when=when, shown=shown, grouped=grouped,
                           probability_text=probability_text)


@bp.get("/analyses/<analysis_id>/report.json")
def report_json(analysis_id: str):
    """The same report as JSON: the body of GET /api/v1/analyses/<id>/report."""
    return jsonify(_report(analysis_id))


def when(iso: str | None) -> str:
    """An ISO 8601 time from the report as people read it, in UTC to the second."""
    if not iso:
        return "—"
    return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M:%S UTC")


def shown(value: Any) -> str:
    """An evidence value as text, cut short for paper."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= VALUE_MAX else text[:VALUE_MAX] + "…"


def grouped(evidence: list[dict]) -> list[tuple[str, list[dict]]]:
    """The evidence (already in the registry's group order) under its group titles."""
    return [(title or "Other", list(items))
            for title, items in itertools.groupby(evidence, key=lambda e: e["group_title"])]
