"""Provenance: every positive sign of generation the file carries, gathered in one call."""
from __future__ import annotations

from PIL import Image

from shared.evidence import Evidence
from worker.signals.content_credentials import c2pa_evidence
from worker.signals.generator import generator_evidence
from worker.signals.source_type import source_type_evidence


def provenance_evidence(path: str, meta: dict, img: Image.Image | None = None) -> list[Evidence]:
    """C2PA, IPTC/XMP source type and generator-marker, and generator-chunk items, strong ones first."""
    items = c2pa_evidence(path) + source_type_evidence(meta) + generator_evidence(path, meta, img)
    return sorted(items, key=lambda e: not e.get("strong"))  # stable: order within each group kept
