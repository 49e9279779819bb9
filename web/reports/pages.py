"""The printable report page of an analysis for the keyless local user, and its JSON (like the result page's poll,
on the pages' own routes: the keyed API may answer the browser 401)."""
from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

from flask import jsonify, render_template, request

from shared.verdict import probability_text
from web.analyses.pages import _settings, analysis_or_404
from web.core.blueprints import page_blueprint
from web.core.db import get_session
from web.reports import services as report

bp = page_blueprint("reports", __name__)

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


def facts(value: Any, label: str = "") -> list[tuple[str, str]]:
    """A structured evidence value as (label, text) lines a reader can follow, instead of raw JSON.

    Nested keys are joined ("signer issuer"), lists of plain values become one comma-separated line.
    """
    if isinstance(value, dict):
        return [line for key, sub in value.items() if sub not in (None, "", [], {})
                for line in facts(sub, f"{label} {key}".strip().replace("_", " "))]
    if isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
        return [line for i, sub in enumerate(value, 1) for line in facts(sub, f"{label} {i}".strip())]
    if isinstance(value, list):
        return [(label, ", ".join(str(v) for v in value))]
    return [(label, str(value))]


def shown(value: Any) -> str:
    """An evidence value as text for paper: structured ones as "label: text" lines, long text cut at a word."""
    text = value if isinstance(value, str) else "; ".join(f"{k}: {v}" if k else v for k, v in facts(value))
    if len(text) <= VALUE_MAX:
        return text
    cut = text[:VALUE_MAX].rsplit(" ", 1)[0]
    return (cut if len(cut) > VALUE_MAX // 2 else text[:VALUE_MAX]) + "…"


def grouped(evidence: list[dict]) -> list[tuple[str, list[dict]]]:
    """The evidence (already in the registry's group order) under its group titles."""
    return [(title or "Other", list(items))
            for title, items in itertools.groupby(evidence, key=lambda e: e["group_title"])]
