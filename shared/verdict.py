"""Verdict fusion: a pure function from the signals to a graded level (``shared.levels``), its
verdict (real / uncertain / fake) and the reasons, the decisive one first.

Inputs: the detectors' combined fake probability (None when they did not run or the image is too
small for them), the metadata score of ``worker/signals/metadata.py`` (None when exiftool failed),
the evidence list, the detectors' thresholds (from ``models/ensemble.json``) and the levels' measured
rates (the same file's ``levels``).

Bands: model "fake" is p >= model_fake (at most 2 % of held-out genuine photos score that high),
"real" is p <= model_real (at most 3 % of held-out AI images score that low), else "between";
``model_camera`` (at most 20 % of held-out AI images score that low) is the camera-original level's own:
with camera-original evidence the detectors need only not point to AI, because an AI image must also
carry that evidence (none of the EXIF transplants measured did, docs/evidence.md);
metadata "high" is score >= meta_real (camera-like), "low" is score <= meta_fake.
"Camera support" is metadata high, a provenance item that vouches for a real origin (C2PA / IPTC capture:
``vouches_real`` in shared/signals.py) with effect "real", or a camera-original signal
(``camera_original`` in shared/signals.py) with effect "real".
"Camera original" is a signed C2PA capture claim or the camera-original signal only: a metadata score
or an XMP source type is copied by ``exiftool -tagsFromFile``.

| # | condition (first that matches wins)                  | level           | rationale                                   |
|---|------------------------------------------------------|-----------------|---------------------------------------------|
| 1 | any evidence with ``strong=True``                    | ai-provenance   | generation declared in the file: the model  |
|   |                                                      |                 | cannot outvote it; that reason goes first   |
| 2 | no model probability                                 | inconclusive    | metadata alone proves nothing               |
| 3 | robustness: the call goes to the opposite side after | inconclusive    | a call that re-compression reverses is not  |
|   | re-compression or down-scaling                       |                 | one to act on                               |
| 4 | model fake, camera support                           | inconclusive    | camera-like file the model calls AI: conflict |
| 5 | model fake                                           | likely-ai       | seed rule; stripped metadata does not       |
|   |                                                      |                 | contradict the model                        |
| 6 | model real, non-strong fake evidence (e.g. a broken  | inconclusive    | the file shows signs of AI or editing that  |
|   | C2PA manifest, an AI tool in its edit history)       |                 | the detector did not see                    |
| 7 | p <= model_camera, camera original (no weak fake)    | camera-original | seed rule: model and metadata both say real |
| 8 | model real                                           | no-sign-of-ai   | the detector's own measured error rate      |
| 9 | model between                                        | inconclusive    | leans AI / real by the side of 0.5          |

Non-strong "fake" evidence never makes a verdict fake by itself; it blocks the real-side levels (row 6).
"""
from __future__ import annotations

from dataclasses import dataclass

from collections.abc import Mapping

from shared import levels
from shared.evidence import Evidence
from shared.signals import CAMERA_ORIGINAL, DECISIVE, VOUCHES_REAL


@dataclass(frozen=True)
class Thresholds:
    """Operating points: model probability bands (from the sidecar) and metadata score bands."""

    model_fake: float = 0.5
    model_real: float = 0.2
    # with camera-original evidence the detectors need only not point to AI: their own, looser threshold
    model_camera: float = 0.2
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
    "model_fake": "the detectors' combined fake probability at or above which the level is \"likely AI\"",
    "model_real": "the combined fake probability at or below which the level is \"no sign of AI\"",
    "model_camera": "the combined fake probability at or below which camera-original evidence makes the level "
                    "\"consistent with a camera original\"",
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


def probability_text(p: float) -> str:
    """A probability in words that never contradicts the band beside it (no '0.0 %' for 0.003)."""
    if p < 0.001:
        return "under 0.1 %"
    if p > 0.999:
        return "over 99.9 %"
    return f"{100 * p:.1f} %" if p < 0.1 or p > 0.9 else f"{100 * p:.0f} %"


@dataclass(frozen=True)
class Verdict:
    """The level, its three-state verdict and the human reasons, most important first."""

    label: str  # "real" | "uncertain" | "fake" (levels.VERDICT_OF[level])
    reasons: list[str]
    level: str = "inconclusive"


def _flipped(ev: Evidence) -> bool:
    """A robustness item whose call goes to the opposite side (old items without "opposite": any change)."""
    value = ev.get("value")
    return ev.get("kind") == "robustness" and isinstance(value, dict) and bool(value.get("flipped")) \
        and bool(value.get("opposite", True))


def _camera_original(ev: Evidence) -> bool:
    """Evidence of an unedited camera original: a real C2PA capture claim, or the camera_original signal's
    summary (its single findings carry effect "real" too, but only the summary weighs them all)."""
    if ev.get("kind") not in CAMERA_ORIGINAL or ev.get("effect") != "real":
        return False
    value = ev.get("value")
    return ev.get("kind") != "camera_original" or (isinstance(value, dict) and value.get("result") == "camera_original")


def fuse(
    fake_probability: float | None,
    metadata_score: float | None,
    evidence: list[Evidence],
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    rates: Mapping[str, Mapping[str, float]] | None = None,
) -> Verdict:
    """Fuse model probability, metadata score and evidence into a level (table in the module docstring)."""
    t = thresholds
    strong = [e for e in evidence if e.get("strong")]
    weak_fake = [e for e in evidence if e.get("kind") in DECISIVE and e.get("effect") == "fake" and not e.get("strong")]
    real_prov = [e for e in evidence if e.get("kind") in VOUCHES_REAL and e.get("effect") == "real"]
    camera = [e for e in evidence if _camera_original(e)]

    if metadata_score is None:
        meta_band, meta_reason = "mid", "metadata unavailable"
    elif metadata_score >= t.meta_real:
        meta_band, meta_reason = "high", f"metadata looks like a camera original (score {metadata_score:.2f})"
    elif metadata_score <= t.meta_fake:
        meta_band, meta_reason = "low", f"metadata shows no camera origin or shows editing (score {metadata_score:.2f})"
    else:
        meta_band, meta_reason = "mid", f"metadata is inconclusive (score {metadata_score:.2f})"
    camera_support = meta_band == "high" or bool(real_prov) or bool(camera)

    model_band = None if fake_probability is None else band(fake_probability, t)
    p_text = probability_text(fake_probability or 0.0)
    model_reason = {None: "detector result not used (none, or the image is too small for it)",
                    "fake": f"the detectors score it {p_text} likely AI-generated, at or above their "
                            f"\"likely AI\" threshold of {probability_text(t.model_fake)}",
                    "real": f"the detectors score it {p_text} likely AI-generated, at or below their "
                            f"\"no sign of AI\" threshold of {probability_text(t.model_real)}",
                    "between": f"the detectors score it {p_text} likely AI-generated, between their thresholds "
                               f"({probability_text(t.model_real)} and {probability_text(t.model_fake)})"}[model_band]

    extra = _dedupe([e["reason"] for e in weak_fake + real_prov + camera])
    no_proof = "no provenance found; absence of provenance is not proof of authenticity"

    def out(level: str, *why: str) -> Verdict:
        lv = levels.BY_NAME[level]
        head = f"{lv.label}: {lv.meaning}"
        measured = levels.rates_sentence(lv, rates)
        return Verdict(lv.verdict, _dedupe([head + (f" ({measured})" if measured else ""), *why]), level)

    if strong:
        return out("ai-provenance", *[e["reason"] for e in strong], model_reason, meta_reason, *extra)
    if model_band is None:
        return out("inconclusive", model_reason, meta_reason, *extra)
    flips = [e["reason"] for e in evidence if _flipped(e)]
    if flips and model_band != "between":
        return out("inconclusive", *flips, model_reason, meta_reason, *extra)
    if camera and not weak_fake and fake_probability <= t.model_camera and model_band != "fake":
        camera_reason = (model_reason if model_band == "real" else
                         f"the detectors score it {p_text} likely AI-generated, at or below the threshold of "
                         f"{probability_text(t.model_camera)} that camera-original evidence needs")
        return out("camera-original", camera_reason, *extra, meta_reason)
    if model_band == "fake":
        if camera_support:
            return out("inconclusive", f"{model_reason}, but the file carries camera evidence", meta_reason, *extra)
        return out("likely-ai", model_reason, meta_reason, *extra)
    if model_band == "real":
        if weak_fake:
            return out("inconclusive", f"{model_reason}, but the file shows signs of AI or editing", *extra,
                       meta_reason)
        return out("no-sign-of-ai", model_reason, meta_reason, *extra, no_proof)
    lean = "leans AI" if fake_probability >= 0.5 and not camera_support else "leans real" \
        if fake_probability < 0.5 and not weak_fake else "no clear lean"
    return out("inconclusive", f"{lean}: {model_reason}", meta_reason, *extra)


def _dedupe(reasons: list[str]) -> list[str]:
    return list(dict.fromkeys(r for r in reasons if r))
