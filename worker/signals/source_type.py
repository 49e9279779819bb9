"""IPTC DigitalSourceType (XMP) and generator names in Software/Credit/Make-style fields.

The IPTC NewsCodes ``digitalsourcetype`` vocabulary is shared with C2PA's actions
``digitalSourceType``; ``SOURCE_TYPES`` maps each code to its effect and whether it is
decisive. A generator's own product string (``generator_names.PRODUCTS``) in a field naming the software that
made the file (Software, CreatorTool...) is decisive too: no camera or editor writes "Midjourney" there. In
device fields (Make, Model), free-text fields (Title, Credit...) it counts against authenticity without
deciding; inside a device string (an Android build fingerprint, firmware) it is not a finding at all.
"""
from __future__ import annotations

import re

from shared.evidence import Evidence, item
from worker.signals.generator_names import device_string, find_product

# code -> (effect, strong, human description)
SOURCE_TYPES: dict[str, tuple[str, bool, str]] = {
    "trainedAlgorithmicMedia": ("fake", True, "created by a trained AI model"),
    "compositeWithTrainedAlgorithmicMedia": ("fake", True, "composite containing AI-generated elements"),
    "algorithmicMedia": ("fake", True, "created purely by an algorithm, not captured"),
    "compositeSynthetic": ("fake", False, "composite with synthetic elements"),
    "digitalCreation": ("fake", False, "digital creation (drawn or rendered), not a photograph"),
    "digitalArt": ("fake", False, "digital art, not a photograph"),
    "dataDrivenMedia": ("neutral", False, "data-driven media"),
    "algorithmicallyEnhanced": ("neutral", False, "captured, then enhanced by an algorithm"),
    "humanEdits": ("neutral", False, "captured, then edited by a person"),
    "minorHumanEdits": ("neutral", False, "captured, with minor human edits"),
    "composite": ("neutral", False, "composite of several elements"),
    "screenCapture": ("neutral", False, "screen capture"),
    "virtualRecording": ("neutral", False, "recording of a virtual event"),
    "print": ("neutral", False, "scan of a print"),
    "softwareImage": ("neutral", False, "created by software"),
    "digitalCapture": ("real", False, "captured by a digital camera"),
    "computationalCapture": ("real", False, "captured with computational photography"),
    "compositeCapture": ("real", False, "composite of captures"),
    "negativeFilm": ("real", False, "scan of a film negative"),
    "positiveFilm": ("real", False, "scan of a slide"),
}
_BY_KEY = {re.sub(r"[^a-z]", "", code.lower()): code for code in SOURCE_TYPES}

# Fields that name the software that made the file: a generator's own product string there is decisive,
# unless the value is a device string (an Android build fingerprint or firmware that happens to contain it).
SOFTWARE_TAGS = ("Software", "CreatorTool", "HistorySoftwareAgent", "ProcessingSoftware", "ClaimGenerator",
                 "Producer")
# Fields that name the device, and free-text fields ("Runway at Heathrow"): a product string there points to AI
# without deciding it.
DEVICE_TAGS = ("Make", "Model")
TEXT_TAGS = ("Credit", "Artist", "Creator", "Author", "Source", "Title")


def source_type_code(value) -> str | None:
    """The vocabulary code of a DigitalSourceType value (URI, bare code or exiftool's spaced label)."""
    last = str(value).rstrip("/").rsplit("/", 1)[-1]
    return _BY_KEY.get(re.sub(r"[^a-z]", "", last.lower()))


def source_type_item(source: str, value, kind: str = "iptc_digital_source_type", context: str = "",
                     where: str | None = None) -> Evidence:
    """One evidence item for a DigitalSourceType value found at ``source`` (``where`` names it in the reason)."""
    code = source_type_code(value)
    effect, strong, text = SOURCE_TYPES.get(code, ("neutral", False, "unrecognised source type"))
    extra = {"strong": True} if strong else {}
    return item(kind, source, value, effect, f"{where or source} says {code or value}: {text}{context}", **extra)


def source_type_evidence(meta: dict) -> list[Evidence]:
    """Items for every DigitalSourceType tag and every generator product string in software, device or text fields."""
    out: list[Evidence] = []
    for key, value in (meta or {}).items():
        tag = key.rpartition(":")[2]
        values = value if isinstance(value, list) else [value]
        if tag.lower() == "digitalsourcetype":
            out += [source_type_item(key, v) for v in values if v]
        elif tag in SOFTWARE_TAGS or tag in DEVICE_TAGS or tag in TEXT_TAGS:
            out += [ev for v in values if (ev := _generator_item(key, tag, v, meta))]
    return out


def _generator_item(key: str, tag: str, value, meta: dict) -> Evidence | None:
    """A generator_metadata item for one field's value, strong only for a product string naming the software."""
    match = find_product(value)
    if not match:
        return None
    device = device_string(value, meta) if tag in SOFTWARE_TAGS else None
    if device:
        return None  # "gemini-user 7.0 NRD90M ... release-keys" names a phone, not the software that made the image
    reason = f"{key} names an AI generator ({match.product.name}: \"{match.text}\")"
    if tag in DEVICE_TAGS:
        reason += "; a device-name field, so this points to AI without deciding it"
    elif tag in TEXT_TAGS:
        reason += "; a free-text field, so this points to AI without deciding it"
    elif not match.product.decisive:
        reason += "; the name is also used by non-generating software, so this points to AI without deciding it"
    strong = tag in SOFTWARE_TAGS and match.product.decisive
    return item("generator_metadata", key, value, "fake", reason, **({"strong": True} if strong else {}))
