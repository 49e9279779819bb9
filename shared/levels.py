"""The graded levels of a verdict, most AI-like first: what each says, and which verdict it maps to.

A three-state verdict whose thresholds hold 2 % / 3 % error rates leaves most images "uncertain" and
tells a reader nothing about how uncertain. A level names where the evidence puts the image and
carries its measured meaning: the share of held-out AI images and of held-out genuine photos whose
detector score lands in that band (``models/ensemble.json``'s ``levels``, written by
``python -m models.train`` from the source-held-out cross-validation's cross-fitted scores).

``verdict`` stays for existing clients: ``fake`` at the AI levels, ``real`` at the two real-side
levels, ``uncertain`` otherwise (``VERDICT_OF``).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Level:
    """One level: its stable name (API, database, filters), its label and what it means."""

    name: str
    label: str
    verdict: str  # "fake" | "uncertain" | "real"
    meaning: str
    # which detector band's cross-validated rates describe it ("fake" / "between" / "real"), or None
    band: str | None
    # what the rates leave out: the camera-original level needs evidence beyond the detectors' band
    rates_note: str = ""


LEVELS = (
    Level("ai-provenance", "AI by provenance", "fake",
          "the file itself declares AI generation (Content Credentials, an IPTC source type, a generator's own "
          "metadata or an invisible watermark); the detector cannot outvote it", None),
    Level("likely-ai", "likely AI", "fake",
          "the detectors score the image as high as AI images typically score, and higher than almost every "
          "genuine photo they were tested on", "fake"),
    Level("inconclusive", "inconclusive", "uncertain",
          "the evidence does not point clearly either way: the detectors' score is in the range where AI images "
          "and genuine photos overlap, or the signals contradict each other", "between"),
    Level("no-sign-of-ai", "no sign of AI", "real",
          "the detectors score the image as low as genuine photos typically score, and lower than almost every "
          "AI image they were tested on; this is not proof that it is a photograph", "real"),
    Level("camera-original", "consistent with a camera original", "real",
          "no sign of AI, and the file itself looks like an unedited camera original (its JPEG tables, maker "
          "notes, thumbnail and times, or Content Credentials from a capture device); metadata can be forged, "
          "so this is strong evidence, not proof", "real",
          "an AI image must also carry the camera-original evidence, which none of 144 AI images given a camera "
          "photo's EXIF did"),
)
BY_NAME = {lv.name: lv for lv in LEVELS}
NAMES = tuple(BY_NAME)
VERDICT_OF = {lv.name: lv.verdict for lv in LEVELS}
assert {lv.verdict for lv in LEVELS} == {"fake", "uncertain", "real"}


def _pct(x: float) -> str:
    """A share as people read it: '41 %', '1.8 %', 'under 0.1 %'."""
    x = 100 * float(x)
    if x == 0:
        return "0 %"
    if x < 0.1:
        return "under 0.1 %"
    return f"{x:.1f} %" if x < 10 else f"{x:.0f} %"


def rates_sentence(level: Level, rates: Mapping[str, Mapping[str, float]] | None) -> str:
    """The measured meaning of a level's detector band, e.g. 'of AI images from generators the
    detectors never saw, 41 % score this high; of genuine photos, 1.8 %' ('' without rates)."""
    r = (rates or {}).get(level.name)
    if not r or level.band is None:
        return ""
    where = {"fake": "this high", "between": "in this range", "real": "this low"}[level.band]
    return (f"of AI images from generators the detectors never saw, {_pct(r['ai'])} score {where}; "
            f"of genuine photos from sources they never saw, {_pct(r['real'])}"
            + (f"; {level.rates_note}" if level.rates_note else ""))


def describe(name: str, rates: Mapping[str, Mapping[str, float]] | None = None) -> dict:
    """A level as the API, pages and reports show it: name, label, verdict, meaning and its rates."""
    lv = BY_NAME[name]
    r = (rates or {}).get(name)
    return {"name": lv.name, "label": lv.label, "verdict": lv.verdict, "meaning": lv.meaning,
            "rates": ({"ai": float(r["ai"]), "real": float(r["real"]), "sentence": rates_sentence(lv, rates)}
                      if r and lv.band else None)}
