"""Verdict fusion: a pure function from the signals to real / uncertain / fake and the reasons.

Inputs: the detector's fake probability (None when the model did not run), the metadata
score of ``worker/signals/metadata.py`` (None when exiftool failed), and the evidence list.
The model's own ``fake``/``real`` thresholds come from its sidecar and replace
``model_fake``/``model_real`` (``Thresholds(**{**asdict(DEFAULT_THRESHOLDS), ...})``).

Bands: model "fake" is p >= model_fake, "real" is p <= model_real, else "between";
metadata "high" is score >= meta_real (camera-like), "low" is score <= meta_fake (editor
tags, nothing camera-like), else "mid" (stripped metadata lands here: BASE = 0.30).
"Real support" is metadata high or a provenance item that vouches for a real origin (c2pa / IPTC:
``vouches_real`` in shared/signals.py) with effect "real"; "provenance" below is the registry's ``decisive`` kinds.

| # | condition (first that matches wins)            | label     | rationale                                         |
|---|------------------------------------------------|-----------|---------------------------------------------------|
| 1 | any evidence with ``strong=True``              | fake      | generation claimed in the file (C2PA/IPTC AI      |
|   |                                                |           | source type, generator chunks, watermark): the    |
|   |                                                |           | model cannot outvote it; that reason goes first   |
| 2 | robustness item, neutral, value.flipped        | uncertain | the model's call flips when re-compressed:        |
|   |                                                |           | "inconclusive under re-compression"               |
| 3 | no model probability                           | uncertain | metadata alone proves nothing (strippable,        |
|   |                                                |           | forgeable); reasons say which way it leans        |
| 4 | model fake, metadata low or mid / None         | fake      | seed rule (both low -> fake); stripped metadata   |
|   |                                                |           | does not contradict the model                     |
| 5 | model fake, real support                       | uncertain | camera-like file the model calls fake: conflict   |
| 6 | model real, real support, no non-strong fake   | real      | seed rule (both high -> real)                     |
|   | evidence                                       |           |                                                   |
| 7 | model real, otherwise                          | uncertain | leans real: absence of provenance or of camera    |
|   |                                                |           | metadata never counts as authenticity             |
| 8 | model between                                  | uncertain | leans fake / real by the side of 0.5 and metadata |

Non-strong "fake" evidence (e.g. an editor in C2PA actions, a broken manifest) never
makes a verdict fake by itself; it blocks "real" (row 6) and is listed in the reasons.
"""
from __future__ import annotations

from dataclasses import dataclass

from shared.evidence import Evidence
from shared.signals import DECISIVE, VOUCHES_REAL


@dataclass(frozen=True)
class Thresholds:
    """Operating points: model probability bands (from the sidecar) and metadata score bands."""

    model_fake: float = 0.5
    model_real: float = 0.2
    meta_real: float = 0.7
    meta_fake: float = 0.25


# model_*: placeholders; the detector's sidecar supplies its measured operating points.
# meta_*: measured on ../shared/samples (scripts/measure_metadata_scores.py; docs/evidence.md):
# camera originals 26 of 31 >= 0.7, none <= 0.25, median 0.85; camera files re-saved by
# GIMP/Photoshop 1 of 20 >= 0.7, 3 <= 0.25, median 0.53; generator files (metadata stripped to
# their chunks) all 0.30 = "mid", so metadata never decides them.
DEFAULT_THRESHOLDS = Thresholds()

# What each threshold decides (the bands above), for people reading a report of a verdict.
MEANINGS = {
    "model_fake": "the detectors' combined fake probability at or above which they call the image AI-generated",
    "model_real": "the combined fake probability at or below which the detectors call the image a real photo",
    "meta_real": "the metadata score at or above which the file looks like a camera original",
    "meta_fake": "the metadata score at or below which the file shows no camera origin or shows editing",
}
assert set(MEANINGS) == set(Thresholds.__dataclass_fields__), "every threshold has its meaning"


def band(fake_probability: float, t: Thresholds = DEFAULT_THRESHOLDS) -> str:
    """Which side of the model's thresholds a probability falls: "fake", "real" or "between"."""
    if fake_probability >= t.model_fake:
        return "fake"
    if fake_probability <= t.model_real:
        return "real"
    return "between"


@dataclass(frozen=True)
class Verdict:
    """Three-state label and its human reasons, most important first."""

    label: str  # "real" | "uncertain" | "fake"
    reasons: list[str]


def _flipped(ev: Evidence) -> bool:
    value = ev.get("value")
    return ev.get("kind") == "robustness" and ev.get("effect") == "neutral" and isinstance(value, dict) \
        and bool(value.get("flipped"))


def fuse(
    fake_probability: float | None,
    metadata_score: float | None,
    evidence: list[Evidence],
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> Verdict:
    """Fuse model probability, metadata score and evidence into a verdict (table in the module docstring)."""
    t = thresholds
    strong = [e for e in evidence if e.get("strong")]
    weak_fake = [e for e in evidence if e.get("kind") in DECISIVE and e.get("effect") == "fake" and not e.get("strong")]
    real_prov = [e for e in evidence if e.get("kind") in VOUCHES_REAL and e.get("effect") == "real"]

    if metadata_score is None:
        meta_band, meta_reason = "mid", "metadata unavailable"
    elif metadata_score >= t.meta_real:
        meta_band, meta_reason = "high", f"metadata looks like a camera original (score {metadata_score:.2f})"
    elif metadata_score <= t.meta_fake:
        meta_band, meta_reason = "low", f"metadata shows no camera origin or shows editing (score {metadata_score:.2f})"
    else:
        meta_band, meta_reason = "mid", f"metadata is inconclusive (score {metadata_score:.2f})"
    real_support = meta_band == "high" or bool(real_prov)

    model_band = None if fake_probability is None else band(fake_probability, t)
    model_reason = {None: "detector result not used (none, or the image is too small for it)",
                    "fake": f"detector says AI-generated (p={fake_probability or 0:.2f})",
                    "real": f"detector says real photo (p={fake_probability or 0:.2f})",
                    "between": f"detector is unsure (p={fake_probability or 0:.2f})"}[model_band]

    extra = [e["reason"] for e in weak_fake] + [e["reason"] for e in real_prov]
    no_proof = "no provenance found; absence of provenance is not proof of authenticity"

    if strong:
        reasons = [e["reason"] for e in strong] + [model_reason, meta_reason]
        return Verdict("fake", _dedupe(reasons + extra))
    if any(_flipped(e) for e in evidence):
        return Verdict("uncertain", _dedupe(["inconclusive under re-compression", model_reason, meta_reason] + extra))
    if model_band is None:
        return Verdict("uncertain", _dedupe([model_reason, meta_reason] + extra))
    if model_band == "fake":
        if real_support:
            return Verdict("uncertain", _dedupe(
                [f"{model_reason}, but the file carries camera evidence", meta_reason] + extra))
        return Verdict("fake", _dedupe([model_reason, meta_reason] + extra))
    if model_band == "real":
        if real_support and not weak_fake:
            return Verdict("real", _dedupe([model_reason, meta_reason] + extra))
        return Verdict("uncertain", _dedupe([f"leans real: {model_reason}", meta_reason] + extra + [no_proof]))
    lean = "leans fake" if fake_probability >= 0.5 and not real_support else "leans real" \
        if fake_probability < 0.5 and real_support and not weak_fake else "no clear lean"
    return Verdict("uncertain", _dedupe([f"{lean}: {model_reason}", meta_reason] + extra))


def _dedupe(reasons: list[str]) -> list[str]:
    return list(dict.fromkeys(r for r in reasons if r))
