"""Metadata that identifies people or devices (GPS position, serial numbers, owner names) is hidden on
pages, in the API and in exports unless the owner asks for it (`?private=true`)."""
from __future__ import annotations

import re
from typing import Any

_PRIVATE = re.compile(r"GPS|Serial|OwnerName|CameraOwner|Artist$|Copyright$|Creator$|By-line|Location|City|"
                      r"Country|Sub-location|Province-State|State$", re.IGNORECASE)
HIDDEN = "(hidden: GPS, serial numbers and owner details are shown only when asked for)"


def is_private(tag: str) -> bool:
    """True for tags like EXIF:GPSLatitude, MakerNotes:SerialNumber, XMP:Creator."""
    return bool(_PRIVATE.search(tag.rsplit(":", 1)[-1]))


def redact_groups(groups: dict[str, dict[str, Any]]) -> tuple[dict[str, dict[str, Any]], int]:
    """Grouped metadata with private values replaced; also how many were hidden."""
    hidden = 0
    out: dict[str, dict[str, Any]] = {}
    for group, tags in groups.items():
        out[group] = {}
        for name, value in tags.items():
            if is_private(name):
                hidden += 1
                value = HIDDEN
            out[group][name] = value
    return out, hidden


def redact_evidence(items: list[dict]) -> list[dict]:
    """Evidence whose source is a private tag keeps its reason and effect but not its value."""
    return [(e | {"value": HIDDEN}) if any(is_private(part) for part in re.split(r"[/,\s]+", e.get("source", "")))
            else e for e in items]
