"""Analyses as JSON for the API (and the result page's polling)."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from flask import url_for

from shared.models import Analysis, Status


def _iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC (SQLite hands back naive datetimes, which are stored as UTC)."""
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).isoformat()


def summary(a: Analysis) -> dict[str, Any]:
    """The fields every listing shows."""
    return {
        "id": a.id,
        "status": a.status,
        "filename": a.filename,
        "sha256": a.sha256,
        "created_at": _iso(a.created_at),
        "finished_at": _iso(a.finished_at),
        "verdict": a.verdict,
        "fake_probability": a.fake_probability,
        "metadata_score": a.metadata_score,
        "status_url": url_for("api.get_analysis", analysis_id=a.id, _external=False),
        "page_url": url_for("pages.result", analysis_id=a.id),
    }


def detail(a: Analysis) -> dict[str, Any]:
    """Status and, when done, the full result; when failed, the reason."""
    body = summary(a) | {
        "media_type": a.media_type,
        "size_bytes": a.size_bytes,
        "width": a.width,
        "height": a.height,
        "megapixels": a.megapixels,
        "started_at": _iso(a.started_at),
        "attempts": a.attempts,
        "model_version": a.model_version,
    }
    if a.status == Status.FAILED:
        body["error"] = a.error
    if a.status == Status.DONE and a.result:
        result = dict(a.result)
        result["maps"] = [
            m | {"url": url_for("pages.derived_file", analysis_id=a.id, name=m["name"])}
            for m in result.get("maps", [])
        ]
        body["result"] = result
        body["reasons"] = result.get("reasons", [])
        body["evidence"] = result.get("evidence", [])
    return body
