"""Camera-original evidence: whether the file as uploaded looks like what a camera wrote, unedited and not re-saved.

Reads the JPEG headers (``jpeg_headers``) and exiftool's tags. Each check gives a finding with a plain sentence:

| check | supports an original (weight) | defeats it |
|---|---|---|
| quantisation tables | the maker's own tables (0.30), required | — (see below) |
| camera make and model | both recorded (0.10) | — |
| maker notes | present and parsed by exiftool for the stated make (0.20) | — |
| EXIF thumbnail | shows the same picture as the image (0.25) | shows a different picture, or another shape |
| capture and modification times | recorded, modified within a minute of capture (0.15) | modified later, or before |
| editing software | — | Software/CreatorTool names an editor |
| C2PA | a capture claim, intact and trusted (whole score 1.0); any other capture claim is reported only | — |

The result is one ``camera_original`` item first, its ``value`` holding ``score`` in [0, 1], ``result`` (one of
``RESULTS``) and the findings, then one item per finding. ``camera_original`` needs the camera's own tables,
a thumbnail showing the same picture, no defeater and a score of at least ``ORIGINAL_MIN``: the thumbnail is
the one check that ties the metadata to the pixels (EXIF, maker notes and even the tables copy over to any
picture in one command). The standard IJG-scaled tables that libraries write leave a file short of an original
without defeating it (some cameras and phones use them too). It is evidence, not proof: all of it can be
forged, and re-saving or editing is not a sign of AI by itself, so defeaters are ``neutral``.
"""
from __future__ import annotations

from shared.evidence import Evidence, item
from worker.signals import jpeg_headers
from worker.signals.metadata import editing_software, exif_date, find
from worker.signals.source_type import SOURCE_TYPES, source_type_code

WEIGHTS = {"camera_tables": 0.30, "make_model": 0.10, "maker_notes": 0.20, "thumbnail_match": 0.25,
           "capture_times": 0.15}
ORIGINAL_MIN = 0.70
DEFEATED_MAX = 0.20  # a file with any defeater scores no more than this, whatever else it keeps
MAKER_NOTES_MIN = 5  # parsed maker notes give dozens of tags; a handful is a stub or an unknown format
TIME_SLACK_S = 60
RESULTS = {
    "camera_original": "consistent with an unedited camera original",
    "edited_or_resaved": "edited or re-saved after capture",
    "inconclusive": "some camera traits, not enough to call it a camera original",
    "no_camera_metadata": "no camera metadata to judge",
}
CAVEAT = "This is evidence, not proof: headers and metadata can be copied or forged."


def camera_original_evidence(path: str, meta: dict, provenance: list[Evidence] | None = None,
                             max_pixels: int = 100_000_000) -> list[Evidence]:
    """The camera_original summary item, then one item per finding (see the module's table)."""
    meta, found = meta or {}, []  # (check, item) pairs

    def add(check: str, effect: str, source: str, value, sentence: str) -> None:
        weight = WEIGHTS.get(check, 0.0) if effect == "real" else 0.0
        found.append((check, item("camera_original", source, value, effect, sentence, weight=weight)))

    claims = [e for e in provenance or [] if e.get("kind") == "c2pa" and _capture_claim(e.get("value"))]
    capture = [e for e in claims if e.get("effect") == "real"]  # content_credentials: intact, active, trusted
    if capture:
        add("c2pa_capture", "real", capture[0]["source"], capture[0].get("value"),
            "C2PA Content Credentials record a capture by a device, intact and from a trusted signer")
    elif claims:
        add("c2pa_capture_unverified", "neutral", claims[0]["source"], claims[0].get("value"),
            "C2PA records the file's capture or creation, but not as an intact, trusted capture claim of the active "
            "manifest, so it is not counted")
    _tables(path, add)
    make, model = find(meta, "Make"), find(meta, "Model")
    if make and model:
        add("make_model", "real", "EXIF:Make/Model", f"{make} {model}", f"recorded as taken with a {make} {model}")
    _maker_notes(meta, make, add)
    _thumbnail(path, meta, max_pixels, add)
    _times(meta, add)
    editor = editing_software(meta)
    if editor:
        add("editing_software", "neutral", editor[0], editor[1], f"{editor[0]} names editing software ({editor[1]})")
    summary = _summary(found, bool(capture), bool(make or model or find(meta, "DateTimeOriginal")))
    return [summary] + [e for _, e in found]


def _capture_claim(value) -> bool:
    """A C2PA item's value that claims capture: a capture source type, or an active manifest's c2pa.created."""
    if isinstance(value, dict):
        return value.get("role") == "active" and "c2pa.created" in (value.get("actions") or [])
    return SOURCE_TYPES.get(source_type_code(value) or "", ("",))[0] == "real"


DEFEATERS = ("thumbnail_mismatch", "editing_software", "modified_later", "impossible_times")


def _summary(found: list[tuple[str, Evidence]], c2pa_capture: bool, has_camera_metadata: bool) -> Evidence:
    """The one item a fusion reads: score, result and its meaning, and every finding's sentence."""
    checks = {c for c, _ in found}
    defeats = [e for c, e in found if c in DEFEATERS]
    score = 1.0 if c2pa_capture else round(min(1.0, sum(e["weight"] for _, e in found)), 3)
    if c2pa_capture:
        result = "camera_original"
    elif defeats:
        result, score = "edited_or_resaved", min(score, DEFEATED_MAX)
    elif not has_camera_metadata:
        result = "no_camera_metadata"
    elif {"camera_tables", "thumbnail_match"} <= checks and score >= ORIGINAL_MIN:
        result = "camera_original"
    else:
        result = "inconclusive"
    if result == "camera_original":
        why = "; ".join(e["reason"] for _, e in found if e["effect"] == "real")
        reason = f"Consistent with an unedited camera original: {why}. {CAVEAT}"
    elif result == "edited_or_resaved":
        reason = (f"Not a camera original as uploaded: {'; '.join(e['reason'] for e in defeats)}. Editing or "
                  "re-saving is common and is not a sign of AI by itself.")
    elif result == "no_camera_metadata":
        reason = "No camera metadata to judge whether this is a camera original: most images on the web have none."
    elif "camera_tables" not in checks:
        reason = ("Not shown to be a camera original: it is not a JPEG, or its tables are a standard library's, "
                  f"which re-saving leaves but some cameras and phones use too (score {score:.2f}).")
    elif "thumbnail_match" not in checks:
        reason = ("Not shown to be a camera original: there is no EXIF thumbnail to tie the camera metadata to this "
                  f"picture, and metadata copies over to any picture (score {score:.2f}).")
    else:
        reason = (f"Some traits of a camera original (score {score:.2f}; {ORIGINAL_MIN:.2f} is needed), not enough "
                  "to call it one.")
    value = {"score": score, "result": result, "meaning": RESULTS[result],
             "findings": [{"check": c, "effect": e["effect"], "sentence": e["reason"]} for c, e in found]}
    return item("camera_original", "camera_original", value, "real" if result == "camera_original" else "neutral",
                reason, weight=score)


def _tables(path: str, add) -> None:  # noqa: ANN001 - the add() closure of camera_original_evidence
    tables = jpeg_headers.quantization(path)
    if tables is None:
        add("not_jpeg", "neutral", "JPEG:DQT", None, "not a JPEG: no quantisation tables to compare with a camera's")
        return
    quality = jpeg_headers.ijg_quality(tables)
    if quality is not None:
        add("standard_tables", "neutral", "JPEG:DQT", {"ijg_quality": quality},
            f"the JPEG uses the standard IJG tables at quality {quality}, as libjpeg, Pillow, browsers and most "
            "editors write them: what re-saving leaves, though some cameras and phones use them too")
    else:
        add("camera_tables", "real", "JPEG:DQT", {"tables": len(tables)},
            "the JPEG's quantisation tables are a camera maker's own, not a standard library's")


def _maker_notes(meta: dict, make, add) -> None:  # noqa: ANN001
    notes = [k for k in meta if k.startswith("MakerNotes:")]
    unknown = [k for k in meta if "makernote" in k.lower() and "unknown" in k.lower()]
    warning = " ".join(str(v) for k, v in meta.items() if k.endswith(":Warning")).lower()
    if make and len(notes) >= MAKER_NOTES_MIN and not unknown and "makernote" not in warning:
        add("maker_notes", "real", "MakerNotes", f"{len(notes)} tags", f"{make}'s maker notes present and parsed")
    elif notes or unknown:
        add("maker_notes_unparsed", "neutral", "MakerNotes", f"{len(notes)} tags",
            "maker notes present but not parsed as the stated make's")


def _thumbnail(path: str, meta: dict, max_pixels: int, add) -> None:  # noqa: ANN001
    thumb = jpeg_headers.thumbnail_bytes(path, meta)
    if thumb is None:
        return
    similarity = jpeg_headers.thumbnail_similarity(path, thumb, max_pixels)
    if similarity is None:
        add("thumbnail_unreadable", "neutral", "EXIF:ThumbnailImage", None, "the EXIF thumbnail could not be decoded")
    elif similarity >= jpeg_headers.MATCH_MIN:
        add("thumbnail_match", "real", "EXIF:ThumbnailImage", round(similarity, 3),
            "the EXIF thumbnail shows the same picture as the image")
    else:
        add("thumbnail_mismatch", "neutral", "EXIF:ThumbnailImage", round(similarity, 3),
            "the EXIF thumbnail shows a different picture or framing than the image: the picture was changed "
            "after the thumbnail was written")


def _times(meta: dict, add) -> None:  # noqa: ANN001
    original, modified = exif_date(find(meta, "DateTimeOriginal")), exif_date(find(meta, "ModifyDate"))
    if not original:
        return
    gap = (modified - original).total_seconds() if modified else 0.0
    if gap < -TIME_SLACK_S:
        add("impossible_times", "neutral", "EXIF:ModifyDate", str(modified), "modified before it was taken")
    elif gap > TIME_SLACK_S:
        add("modified_later", "neutral", "EXIF:ModifyDate", str(modified),
            f"modified {_span(gap)} after it was taken ({original:%Y-%m-%d %H:%M})")
    else:
        add("capture_times", "real", "EXIF:DateTimeOriginal/ModifyDate", str(original),
            "capture time recorded and not modified after it")


def _span(seconds: float) -> str:
    return f"{seconds / 86400:.0f} days" if seconds >= 86400 else f"{seconds / 3600:.1f} hours" \
        if seconds >= 3600 else f"{seconds / 60:.0f} minutes"
