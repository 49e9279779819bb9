"""Verdicts and detector scores against reviewers' labels, per model version (the /evaluation page and API).

Only analyses that are done and whose current label is real or fake count; "unsure" labels are only counted.
The confusion matrix uses the verdict (which provenance evidence can decide); the rates and ROC-AUC use the
combined fake_probability at the thresholds the analysis itself recorded (result["thresholds"]).
"""
from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from flask import url_for
from sqlalchemy import select
from sqlalchemy.orm import Session, undefer

from models import metrics
from shared import labels, levels
from shared.models import Analysis, ApiKey, Label, Status
from web.analyses.services import owned

VERDICTS = ("real", "uncertain", "fake")
CLASSES = ("real", "fake")  # the labels that make a class; y = 1 for fake


def _number(x: float) -> float | None:
    return None if x is None or math.isnan(x) else x


def labelled(session: Session, owner: ApiKey | None) -> list[tuple[Analysis, str]]:
    """The owner's finished analyses with their current label."""
    stmt = (owned(select(Analysis, Label.label).join(Label, Label.analysis_id == Analysis.id), owner)
            .where(Label.id.in_(labels.latest_ids()), Analysis.status == Status.DONE)
            .options(undefer(Analysis.result)).order_by(Analysis.created_at.desc(), Analysis.id))
    return [(a, lab) for a, lab in session.execute(stmt).all()]


def evaluate(session: Session, owner: ApiKey | None) -> dict[str, Any]:
    """The figures for every model version the owner's labelled analyses were made with, newest first."""
    groups: dict[str | None, list[tuple[Analysis, str]]] = defaultdict(list)
    for a, lab in labelled(session, owner):
        groups[a.model_version].append((a, lab))
    return {"disagreement": labels.RULE,
            "models": [figures(version, rows) for version, rows in groups.items()]}


def figures(version: str | None, rows: list[tuple[Analysis, str]]) -> dict[str, Any]:
    """Confusion matrix, rates at the shipped thresholds, ROC-AUC (combined and per detector), disagreements."""
    scored = [(a, lab) for a, lab in rows if lab in CLASSES]
    confusion = {lab: {v: 0 for v in VERDICTS} for lab in CLASSES}
    for a, lab in scored:
        if a.verdict in VERDICTS:
            confusion[lab][a.verdict] += 1
    with_p = [(a, lab) for a, lab in scored if a.fake_probability is not None]
    y = [int(lab == "fake") for _a, lab in with_p]
    p = [a.fake_probability for a, _lab in with_p]
    thresholds = next(((a.result or {}).get("thresholds") for a, _ in rows if (a.result or {}).get("thresholds")),
                      None)
    shipped = {k: float(thresholds[k]) for k in ("model_fake", "model_real")} if thresholds else None
    return {
        "model_version": version, "n": len(scored), "n_real": sum(1 for _, lab in scored if lab == "real"),
        "n_fake": sum(1 for _, lab in scored if lab == "fake"), "n_unsure": len(rows) - len(scored),
        "thresholds": shipped, "confusion": confusion,
        "at_fake_threshold": _rates(y, p, shipped["model_fake"]) if shipped and y else None,
        "at_real_threshold": _rates(y, p, shipped["model_real"]) if shipped and y else None,
        "roc_auc": _number(metrics.roc_auc(y, p)) if y else None,
        "detectors": _detectors(scored),
        "levels": _levels(scored),
        "disagreements": [{"id": a.id, "filename": a.filename, "label": lab, "verdict": a.verdict,
                           "fake_probability": a.fake_probability,
                           "page_url": url_for("analyses.result", analysis_id=a.id)}
                          for a, lab in scored if labels.is_disagreement(lab, a.verdict)],
    }


def _rates(y: list[int], p: list[float], threshold: float) -> dict[str, Any]:
    """metrics.rates, with fpr or tpr null when that class has no labels."""
    return {"fpr": None, "tpr": None} | {k: _number(v) for k, v in metrics.rates(y, p, threshold).items()}


def _detectors(scored: list[tuple[Analysis, str]]) -> list[dict[str, Any]]:
    """Each detector's own ROC-AUC over the analyses it scored, in the order the analyses list them."""
    per: dict[str, tuple[list[int], list[float]]] = {}
    for a, lab in scored:
        for d in (a.result or {}).get("detectors", []):
            ys, ps = per.setdefault(d["name"], ([], []))
            ys.append(int(lab == "fake"))
            ps.append(float(d["fake_probability"]))
    return [{"name": name, "n": len(ys), "roc_auc": _number(metrics.roc_auc(ys, ps))} for name, (ys, ps) in per.items()]


def _levels(scored: list[tuple[Analysis, str]]) -> list[dict[str, Any]]:
    """Per level: the share of labelled genuine photos and AI images that landed there, beside the
    cross-validated shares the analyses recorded with it (result["level"]["rates"]), so a reviewer sees
    whether the levels mean on their own images what the cross-validation says they mean."""
    n = {c: sum(1 for _, lab in scored if lab == c) for c in CLASSES}
    count = {lv: {c: 0 for c in CLASSES} for lv in levels.NAMES}
    measured: dict[str, dict] = {}
    for a, lab in scored:
        if a.level in count:
            count[a.level][lab] += 1
        d = (a.result or {}).get("level")
        if isinstance(d, dict) and d.get("rates") and d.get("name") in count:
            measured.setdefault(d["name"], d["rates"])
    return [{"name": lv.name, "label": lv.label, "verdict": lv.verdict,
             "n_real": count[lv.name]["real"], "n_fake": count[lv.name]["fake"],
             "observed_real": count[lv.name]["real"] / n["real"] if n["real"] else None,
             "observed_ai": count[lv.name]["fake"] / n["fake"] if n["fake"] else None,
             "cross_validated_real": (measured.get(lv.name) or {}).get("real"),
             "cross_validated_ai": (measured.get(lv.name) or {}).get("ai")} for lv in levels.LEVELS]
