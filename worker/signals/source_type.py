"""IPTC DigitalSourceType (XMP) and generator names in Software/Credit/Make-style fields.

The IPTC NewsCodes ``digitalsourcetype`` vocabulary is shared with C2PA's actions
``digitalSourceType``; ``SOURCE_TYPES`` maps each code to its effect and whether it is
decisive. Generator names (``GENERATORS``) written into Software, CreatorTool, Make, Model...
are decisive too: no camera or editor writes "Midjourney" there; in free-text fields (Title, Credit,
Artist...) they count against authenticity without deciding the verdict.
"""
from __future__ import annotations

import re

from shared.evidence import Evidence, item

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

GENERATORS = re.compile(
    r"\b(midjourney|dall[\s\-·.]?e|openai|chatgpt|stable[\s\-]?diffusion|stability\s?ai|sdxl|novelai|"
    r"adobe\s?firefly|firefly|imagen|gemini|google\s?ai|bing\s?image\s?creator|microsoft\s?designer|"
    r"leonardo\.?ai|ideogram|flux\.1|black\s?forest\s?labs|runway(ml)?|craiyon|dreamstudio|"
    r"nightcafe|artbreeder|comfyui|automatic1111|invokeai|fooocus|playground\s?ai|krea|recraft|seedream|"
    r"ai[\s\-]generated|meta\s?ai|qwen[\s\-]?image|grok|aurora\s?ai|dreamina|kling|hailuo)\b",
    re.I,
)
# Fields that name the software or device that made the file: a generator's name there is decisive.
MARKER_TAGS = ("Software", "CreatorTool", "Make", "Model", "HistorySoftwareAgent", "ProcessingSoftware",
               "ClaimGenerator", "Producer")
# Free-text fields: "Runway at Heathrow" or "A firefly at dusk" in a Title is no proof, so a generator
# name there points to AI without deciding the verdict.
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
    """Items for every DigitalSourceType tag and every known generator name in marker fields."""
    out: list[Evidence] = []
    for key, value in (meta or {}).items():
        tag = key.rpartition(":")[2]
        values = value if isinstance(value, list) else [value]
        if tag.lower() == "digitalsourcetype":
            out += [source_type_item(key, v) for v in values if v]
        elif tag in MARKER_TAGS or tag in TEXT_TAGS:
            decisive = tag in MARKER_TAGS
            for v in values:
                match = GENERATORS.search(str(v))
                if match:
                    reason = f"{key} names an AI generator ({match.group(0)})"
                    if not decisive:
                        reason += "; a free-text field, so this points to AI without deciding it"
                    out.append(item("generator_metadata", key, v, "fake", reason,
                                    **({"strong": True} if decisive else {})))
    return out
