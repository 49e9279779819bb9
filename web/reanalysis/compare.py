"""What changed between an analysis and its re-analysis: verdict, level, scores, each detector, evidence, model version.

Pure functions of the two rows (loaded with their results), so the API, the result page's poll and the tests read
the same comparison. Evidence is compared as the API shows it (private values redacted); the forensic maps are
pictures made after the verdict, not signals, so they are left out.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any

from flask import url_for

from shared import levels, privacy, signals
from shared.models import Analysis, Status, iso

FIELDS = ("effect", "value", "strong", "reason")  # what makes an evidence item "changed"


def side(a: Analysis) -> dict[str, Any]:
    """One column of the side-by-side view."""
    result = a.result or {}
    return {"id": a.id, "status": a.status, "verdict": a.verdict, "level": a.level,
            "level_label": levels.BY_NAME[a.level].label if a.level in levels.BY_NAME else None,
            "fake_probability": a.fake_probability,
            "metadata_score": a.metadata_score, "model_version": a.model_version, "finished_at": iso(a.finished_at),
            "error": a.error, "reasons": result.get("reasons", []), "thresholds": result.get("thresholds"),
            "page_url": url_for("analyses.result", analysis_id=a.id)}


def compare(old: Analysis, new: Analysis) -> dict[str, Any]:
    """The comparison of a re-analysis (`new`) with the analysis it re-ran; the changes once both are done."""
    body: dict[str, Any] = {"analysis_id": new.id, "reanalysis_of": old.id, "state": new.status,
                            "old": side(old), "new": side(new), "changes": None, "detectors": None, "evidence": None}
    if old.status != Status.DONE or new.status != Status.DONE:
        return body
    body["changes"] = {name: _change(getattr(old, name), getattr(new, name))
                       for name in ("verdict", "level", "model_version", "fake_probability", "metadata_score")}
    body["detectors"] = detectors((old.result or {}).get("detectors", []), (new.result or {}).get("detectors", []))
    body["evidence"] = evidence((old.result or {}).get("evidence", []), (new.result or {}).get("evidence", []))
    return body


def _change(old: Any, new: Any) -> dict[str, Any]:
    change = {"old": old, "new": new, "changed": old != new}
    if isinstance(old, (int, float)) and isinstance(new, (int, float)):
        change["delta"] = new - old
    return change


def detectors(old: list[dict], new: list[dict]) -> list[dict[str, Any]]:
    """Each detector's score before and after, by name (a detector only one side has shows null on the other)."""
    before, after = {d["name"]: d for d in old}, {d["name"]: d for d in new}
    out = []
    for name in [*before, *(n for n in after if n not in before)]:
        b, a = before.get(name, {}), after.get(name, {})
        p_old, p_new = b.get("fake_probability"), a.get("fake_probability")
        out.append({"name": name, "old": p_old, "new": p_new,
                    "delta": None if p_old is None or p_new is None else p_new - p_old,
                    "old_version": b.get("version"), "new_version": a.get("version")})
    return out


def _key(item: dict) -> tuple[str, str]:
    """What makes two items the same signal: its kind and source, a model item's by detector (its source names
    the model version, which is what changed)."""
    if item.get("kind") == "model":
        return "model", item.get("detector") or "ensemble"
    return item.get("kind", ""), item.get("source", "")


def _signals(items: list[dict]) -> dict[tuple, dict]:
    """Items by key, the n-th repeat of a key kept apart; the maps group left out."""
    seen: dict[tuple, int] = defaultdict(int)
    out = {}
    for item in privacy.redact_evidence(items):
        signal = signals.BY_KIND.get(item.get("kind", ""))
        if signal is not None and signal.group == "maps":
            continue
        key = _key(item)
        out[(*key, seen[key])] = item
        seen[key] += 1
    return out


def evidence(old: list[dict], new: list[dict]) -> dict[str, Any]:
    """Evidence items added, removed and changed (with the fields that changed), and how many are the same."""
    before, after = _signals(old), _signals(new)
    changed, same = [], 0
    for key in (k for k in after if k in before):  # in the new analysis's order
        fields = [f for f in FIELDS if before[key].get(f) != after[key].get(f)]
        if not fields:
            same += 1
            continue
        changed.append({"kind": key[0], "source": after[key].get("source"), "fields": fields,
                        "old": before[key], "new": after[key]})
    return {"added": [item for k, item in after.items() if k not in before],
            "removed": [item for k, item in before.items() if k not in after],
            "changed": changed, "unchanged": same}
