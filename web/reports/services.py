"""The report of one analysis, to keep: one body that the printable page (templates/report.html) and its JSON twin
(GET /api/v1/analyses/<id>/report, and /analyses/<id>/report.json for the pages) both show.

Every fact is read where it lives, never copied: the file, times and verdict from the analysis row (through
web/core/serialize.py, so URLs and privacy are the API's); the model version, each detector's version and weight and the
thresholds that decided this verdict from what the worker stored with it (result["detectors"], result["thresholds"]:
the ensemble spec's and shared/verdict.py's values when it ran); how the thresholds were chosen from the ensemble
spec (models/ensemble.json, when it is still the one that set them); evidence groups and titles from the signal
registry; labels from shared/labels.py; the service version from pyproject.toml.
"""
from __future__ import annotations

import json
from typing import Any

from sqlalchemy.orm import Session

from shared import signals
from shared.models import Analysis, Maps, iso, utcnow
from shared.settings import Settings
from shared.verdict import MEANINGS
from shared.version import NAME, service_version
from web.analyses import services
from web.core import serialize
from web.review import services as review


def make(session: Session, analysis: Analysis, settings: Settings, private: bool = False) -> dict[str, Any]:
    """The report of an analysis (loaded with its result); asks for its maps first if nobody had, as its page does."""
    services.request_maps(session, analysis)
    d = serialize.detail(analysis, private=private)
    result = d.get("result") or {}
    return {
        "report": {"generated_at": iso(utcnow()), "service": {"name": NAME, "version": service_version()},
                   "private": private},
        "analysis": {k: d.get(k) for k in ("id", "status", "error", "batch_id", "reused_from", "page_url",
                                           "status_url")},
        "file": {k: d.get(k) for k in ("filename", "sha256", "size_bytes", "media_type", "width", "height",
                                       "megapixels", "purged_at")} | {"purged": analysis.purged_at is not None}
                | (serialize.source(analysis) if analysis.source_url else {}),  # submitted by link
        "times": {k: d.get(k) for k in ("created_at", "started_at", "finished_at")},
        "verdict": {"label": d["verdict"], "level": d.get("level_detail"), "fake_probability": d["fake_probability"],
                    "metadata_score": d["metadata_score"], "reasons": d.get("reasons") or []},
        "model": model(d["model_version"], result, settings),
        "evidence": evidence(d.get("evidence") or []),
        "preview_url": d.get("preview_url"),
        "maps": maps(analysis, d, result),
        "labels": review.history_json(session, analysis),
    }


def model(version: str | None, result: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """The model version, its detectors and the thresholds this verdict was decided with, each with its meaning."""
    recorded = result.get("thresholds") or {}
    return {"version": version, "detectors": result.get("detectors") or [],
            "thresholds": [{"name": k, "value": v, "meaning": MEANINGS.get(k)} for k, v in recorded.items()],
            "threshold_rule": threshold_rule(settings, recorded)}


def threshold_rule(settings: Settings, recorded: dict[str, float]) -> str | None:
    """How the model's thresholds were chosen, in the ensemble spec's words, if its thresholds are the ones applied."""
    if settings.model_path.suffix != ".json" or "model_fake" not in recorded:
        return None
    try:
        spec = json.loads(settings.model_path.read_text())
    except (OSError, ValueError):
        return None
    shipped = spec.get("thresholds") or {}
    if (shipped.get("fake"), shipped.get("real")) != (recorded.get("model_fake"), recorded.get("model_real")):
        return None  # a later model ships other thresholds: its rule would not describe this verdict
    return spec.get("threshold_rule")


def evidence(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every evidence item with the registry's group and title, in the registry's group order (as the page files it)."""
    order = {name: i for i, name in enumerate(signals.GROUPS)}
    out = []
    for ev in items:
        signal = signals.BY_KIND.get(ev.get("kind", ""))
        group = signal.group if signal else None  # a kind from an older release: listed last, by its name
        out.append(ev | {"group": group, "group_title": signals.GROUPS.get(group or ""),
                         "title": signal.title if signal else ev.get("kind", "")})
    return sorted(out, key=lambda e: order.get(e["group"], len(order)))


def maps(analysis: Analysis, d: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    """The forensic maps with their state: images only once ready; purged files are named but not linked."""
    state = "purged" if analysis.purged_at else d.get("maps_state")  # None until the verdict is in
    items = [{k: m.get(k) for k in ("name", "title", "label")} | {"url": m.get("url") if state == Maps.READY else None}
             for m in result.get("maps") or []]
    return {"state": state, "error": d.get("maps_error"), "items": items}
