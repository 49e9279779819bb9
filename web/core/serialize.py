"""Analyses as JSON for the API (and the result page's polling)."""
from __future__ import annotations

from typing import Any

from flask import url_for

from shared import levels, privacy
from shared.models import Analysis, Batch, Maps, Status, WebhookDelivery, iso




def summary(a: Analysis) -> dict[str, Any]:
    """The fields every listing shows (a batch page draws each item from them: its preview, or why it failed)."""
    body = {
        "id": a.id,
        "status": a.status,
        "filename": a.filename,
        "sha256": a.sha256,
        "created_at": iso(a.created_at),
        "finished_at": iso(a.finished_at),
        "verdict": a.verdict,
        "level": a.level,
        "level_label": levels.BY_NAME[a.level].label if a.level in levels.BY_NAME else None,
        "fake_probability": a.fake_probability,
        "scored": a.scored,
        "metadata_score": a.metadata_score,
        "batch_id": a.batch_id,
        "has_provenance": a.has_provenance,
        "reused_from": a.reused_from,
        "model_version": a.model_version,
        "reanalysis_of": a.reanalysis_of,
        "status_url": url_for("analyses_api.get_analysis", analysis_id=a.id, _external=False),
        "page_url": url_for("analyses.result", analysis_id=a.id),
    }
    if a.status == Status.FAILED:
        body["error"] = a.error
    if a.status == Status.DONE and not a.purged_at:
        body["preview_url"] = preview_url(a)
    if a.source_url:
        body |= source(a)
    return body


def source(a: Analysis) -> dict[str, Any]:
    """Where an image submitted by link came from."""
    return {"source_url": a.source_url, "source_final_url": a.source_final_url, "source_address": a.source_address}


def file_url(a: Analysis, name: str) -> str:
    """Derived files of API-key analyses are served by the API (key required); the local user's by the pages."""
    if a.api_key_id is not None:
        return url_for("analyses_api.derived_file", analysis_id=a.id, name=name)
    return url_for("analyses.derived_file", analysis_id=a.id, name=name)


def preview_url(a: Analysis) -> str:
    """Where the analysed image's preview is, on the same side (API or pages) as its other files."""
    if a.api_key_id is not None:
        return url_for("analyses_api.preview", analysis_id=a.id)
    return url_for("analyses.preview", analysis_id=a.id)


def detail(a: Analysis, private: bool = False) -> dict[str, Any]:
    """Status and, when done, the full result (private metadata hidden unless asked); when failed, the reason."""
    body = summary(a) | {
        "media_type": a.media_type,
        "size_bytes": a.size_bytes,
        "width": a.width,
        "height": a.height,
        "megapixels": a.megapixels,
        "started_at": iso(a.started_at),
        "attempts": a.attempts,
        "pipeline_runs": a.pipeline_runs,
    }
    if a.purged_at:
        body["purged_at"] = iso(a.purged_at)
    if a.status == Status.DONE:  # the verdict comes first; the thumbnail and maps follow on their own
        body["maps_state"] = "pending" if a.maps_state == Maps.RUNNING else (a.maps_state or "not_requested")
        if a.maps_state == Maps.FAILED:
            body["maps_error"] = a.maps_error
    if a.status == Status.DONE and a.result:
        result = dict(a.result)
        result["maps"] = [m | {"url": file_url(a, m["name"])} for m in result.get("maps", [])]
        if a.maps_state == Maps.READY:
            result["thumbnail_url"] = file_url(a, "thumbnail.jpg")
        if not private:
            result["evidence"] = privacy.redact_evidence(result.get("evidence", []))
        body["result"] = result
        if isinstance(result.get("level"), dict):
            body["level_detail"] = result["level"]
        body["reasons"] = result.get("reasons", [])
        body["evidence"] = result.get("evidence", [])
        body["detectors"] = result.get("detectors", [])  # each detector's own score, name and version
    return body


def similar(a: Analysis, distance: int) -> dict[str, Any]:
    """An earlier analysis of the same or a near-identical image."""
    return {"id": a.id, "filename": a.filename, "verdict": a.verdict, "created_at": iso(a.created_at),
            "distance_bits": distance, "page_url": url_for("analyses.result", analysis_id=a.id)}


def batch_summary(b: Batch, counts: dict[str, int]) -> dict[str, Any]:
    """A batch's state: counts per status and progress (finished / total)."""
    finished = counts.get(Status.DONE, 0) + counts.get(Status.FAILED, 0)
    return {
        "id": b.id, "name": b.name, "created_at": iso(b.created_at), "finished_at": iso(b.finished_at),
        "status": "done" if b.finished_at else "running", "total": b.total, "counts": counts,
        "progress": round(finished / b.total, 4) if b.total else 1.0, "callback_url": b.callback_url,
        "status_url": url_for("batches_api.get_batch", batch_id=b.id),
        "results_url": url_for("batches_api.batch_results", batch_id=b.id),
        "page_url": url_for("batches.batch", batch_id=b.id),
    }


def delivery(d: WebhookDelivery) -> dict[str, Any]:
    return {"event_id": d.event_id, "attempt": d.attempt, "url": d.url, "status_code": d.status_code,
            "error": d.error, "succeeded": d.succeeded, "at": iso(d.created_at)}
