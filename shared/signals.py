"""The registry of evidence signals: every kind an evidence item may have, its group, title and role.

One place for this open set (STYLE.md, point 15): the evidence type and the OpenAPI enum (shared/evidence.py's
``Kind``, used by web/core/schemas.py), the verdict (shared/verdict.py), the pipeline's ``has_provenance``
(worker/pipeline.py) and the result page (given ``as_data()`` as JSON by its template) all read it. Adding a
signal is one entry here, the module that emits it, and its test (tests/test_signals_registry.py checks that
every kind the worker emits is listed).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Signal:
    """One kind of evidence and how the verdict and the page treat it."""

    kind: str
    group: str  # the heading the result page files it under (a key of GROUPS)
    title: str  # what the page calls it
    provenance: bool = False  # a record in the file of where it came from (counts for has_provenance)
    decisive: bool = False  # may carry strong=True: makes the verdict fake whatever the model says
    vouches_real: bool = False  # with effect "real" it is support for a "real" verdict (verdict row 6)
    reports_absence: bool = False  # emitted even when nothing is found: only effect "fake" means found
    camera_original: bool = False  # with effect "real": evidence of an unedited camera original (top level)


GROUPS = {"provenance": "Provenance", "metadata": "Metadata", "model": "Model", "maps": "Forensic maps"}

SIGNALS = (
    # a "real" C2PA item is a capture claim in an intact, trusted, signed manifest: the strongest camera
    # evidence; an IPTC source type is a plain XMP field anyone can write, so it supports "real" but
    # does not make a camera original
    Signal("c2pa", "provenance", "C2PA Content Credentials", provenance=True, decisive=True, vouches_real=True,
           camera_original=True),
    Signal("iptc_digital_source_type", "provenance", "IPTC digital source type", provenance=True, decisive=True,
           vouches_real=True),
    Signal("generator_metadata", "provenance", "Generator metadata", provenance=True, decisive=True),
    Signal("watermark", "provenance", "Invisible watermark", provenance=True, decisive=True, reports_absence=True),
    Signal("metadata_score", "metadata", "Camera metadata"),
    # Not yet read by the verdict: its first item's value carries score, result and findings for a fusion to use.
    # its summary item (value.result == "camera_original", effect "real") is the camera-original level's evidence
    Signal("camera_original", "metadata", "Camera original", camera_original=True),
    Signal("model", "model", "Detector"),
    Signal("robustness", "model", "Robustness under re-compression"),
    Signal("forensic_map", "maps", "Forensic map"),
)

BY_KIND = {s.kind: s for s in SIGNALS}
KINDS = tuple(BY_KIND)
PROVENANCE = frozenset(s.kind for s in SIGNALS if s.provenance)
DECISIVE = frozenset(s.kind for s in SIGNALS if s.decisive)
VOUCHES_REAL = frozenset(s.kind for s in SIGNALS if s.vouches_real)
CAMERA_ORIGINAL = frozenset(s.kind for s in SIGNALS if s.camera_original)
assert all(s.group in GROUPS for s in SIGNALS), "every signal's group must be one of GROUPS"


def found_provenance(ev: dict) -> bool:
    """Whether an evidence item is provenance actually found in the file (not a check that came back empty)."""
    signal = BY_KIND.get(ev.get("kind", ""))
    return bool(signal and signal.provenance and (not signal.reports_absence or ev.get("effect") == "fake"))


def as_data() -> dict:
    """The registry as JSON for the result page: the groups in display order and each kind's entry."""
    return {"groups": [{"name": k, "title": v} for k, v in GROUPS.items()],
            "signals": {s.kind: asdict(s) for s in SIGNALS}}
