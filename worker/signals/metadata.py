"""Metadata score: how much exiftool's output looks like an unedited camera capture.

The score starts at ``BASE`` (a file with no metadata: weak evidence either way, most
web images have none) and adds the weight of every check in ``CAMERA_WEIGHTS`` that
holds, then the (negative) weight of every check in ``PENALTIES`` that fires, clamped
to 0..1. Every contribution is returned as a ``metadata_score`` evidence item carrying
its weight, so the page can show exactly what fed the score.

| check                 | weight | fields (any group)                                     |
|-----------------------|-------:|--------------------------------------------------------|
| camera make and model |  +0.15 | Make, Model                                            |
| maker notes           |  +0.15 | any ``MakerNotes:`` tag (vendor blob, rarely rebuilt)   |
| lens                  |  +0.04 | LensModel, LensID, Lens, LensInfo, LensMake            |
| exposure time         |  +0.04 | ExposureTime                                           |
| f-number              |  +0.04 | FNumber                                                |
| ISO                   |  +0.04 | ISO, ISOSpeed, RecommendedExposureIndex                |
| focal length          |  +0.04 | FocalLength                                            |
| original date/time    |  +0.05 | DateTimeOriginal                                       |
| GPS position          |  +0.05 | GPSLatitude / GPSPosition                              |
| thumbnail             |  +0.03 | ThumbnailImage / ThumbnailLength                       |
| thumbnail consistent  |  +0.04 | thumbnail aspect == image aspect (needs its size; the  |
|                       |        | DCF 160x120 padded thumbnail is not compared)          |
| dimensions consistent |  +0.05 | ExifImageWidth/Height == decoded ImageWidth/Height     |
| editing software      |  -0.20 | Software, CreatorTool, HistorySoftwareAgent, ... names |
|                       |        | a known editor (``EDITORS``)                           |
| dimensions mismatch   |  -0.05 | EXIF size differs from the decoded size (resized/crop) |
| thumbnail mismatch    |  -0.10 | thumbnail aspect differs (cropped after capture)       |
| modified later        |  -0.05 | ModifyDate more than a day after DateTimeOriginal      |
| impossible dates      |  -0.10 | ModifyDate before DateTimeOriginal, or CreateDate !=   |
|                       |        | DateTimeOriginal by more than a day                    |

A full camera file reaches 1.0; camera fields re-saved by an editor land around 0.5-0.6;
no metadata at all gives ``BASE`` = 0.30; an editor tag and nothing else gives 0.10.
Metadata is easy to strip and possible to forge: the score supports the model, it never
proves authenticity alone (see ``shared/verdict.py``).
"""
from __future__ import annotations

import re
from datetime import datetime

from shared.evidence import Evidence, item

BASE = 0.30
CAMERA_WEIGHTS = {
    "make_model": 0.15,
    "maker_notes": 0.15,
    "lens": 0.04,
    "exposure_time": 0.04,
    "f_number": 0.04,
    "iso": 0.04,
    "focal_length": 0.04,
    "date_original": 0.05,
    "gps": 0.05,
    "thumbnail": 0.03,
    "thumbnail_consistent": 0.04,
    "dimensions_consistent": 0.05,
}
PENALTIES = {
    "editing_software": -0.20,
    "dimensions_mismatch": -0.05,
    "thumbnail_mismatch": -0.10,
    "modified_later": -0.05,
    "impossible_dates": -0.10,
}
# Lower-case substrings of Software/CreatorTool values written by editors (not camera firmware).
EDITORS = (
    "photoshop", "lightroom", "gimp", "affinity", "pixelmator", "paint.net", "paintshop",
    "painttool", "krita", "snapseed", "picsart", "canva", "capture one", "darktable",
    "rawtherapee", "luminar", "acdsee", "picasa", "photo editor", "fotor", "facetune",
    "corel", "irfanview", "xnview", "imagemagick", "graphicsmagick", "photoscape",
    "digikam", "shotwell", "pixlr", "photopea", "illustrator", "inkscape", "skylum",
)
_SOFTWARE_TAGS = ("Software", "CreatorTool", "HistorySoftwareAgent", "ProcessingSoftware",
                  "Creator Tool", "ApplicationRecordVersion", "OriginatingProgram")
_PRESENCE = {
    "exposure_time": ("ExposureTime",),
    "f_number": ("FNumber",),
    "iso": ("ISO", "ISOSpeed", "RecommendedExposureIndex", "ISOSpeedRatings"),
    "focal_length": ("FocalLength",),
    "lens": ("LensModel", "LensID", "Lens", "LensInfo", "LensMake", "LensType"),
    "date_original": ("DateTimeOriginal",),
    "gps": ("GPSLatitude", "GPSPosition"),
}
_DAY = 86400


def find(meta: dict, *names: str):
    """First non-empty value of any tag name, whatever its group prefix (EXIF first)."""
    wanted = set(names)
    found = {}
    for key, value in meta.items():
        group, _, tag = key.rpartition(":")
        if tag in wanted and value not in (None, "", " ") and str(value).strip():
            found.setdefault(group, value)
    for group in ("EXIF", "XMP", "MakerNotes", "Composite", "File"):
        if group in found:
            return found[group]
    return next(iter(found.values()), None)


def exif_date(value) -> datetime | None:
    m = re.match(r"(\d{4}):(\d\d):(\d\d) (\d\d):(\d\d):(\d\d)", str(value or ""))
    if not m or m.group(1) == "0000":
        return None
    try:
        return datetime(*map(int, m.groups()))
    except ValueError:
        return None


def _int(value) -> int | None:
    try:
        return int(str(value).split()[0])
    except (TypeError, ValueError, IndexError):
        return None


def _decoded_size(meta: dict) -> tuple[int, int] | None:
    """Size of the main image as decoded (File group or Composite:ImageSize, not an IFD's preview)."""
    width, height = _int(meta.get("File:ImageWidth")), _int(meta.get("File:ImageHeight"))
    if not (width and height):
        m = re.match(r"(\d+)[x ](\d+)", str(meta.get("Composite:ImageSize", "")))
        width, height = (int(m.group(1)), int(m.group(2))) if m else (None, None)
    return (width, height) if width and height else None


def editing_software(meta: dict) -> tuple[str, str] | None:
    """The first software field naming a known editor, as (tag, value), or None."""
    for key, value in meta.items():
        tag = key.rpartition(":")[2]
        if tag in _SOFTWARE_TAGS and isinstance(value, (str, list)):
            text = " ".join(value) if isinstance(value, list) else value
            low = text.lower()
            if any(re.search(rf"\b{re.escape(e)}\b", low) for e in EDITORS):
                return key, text
    return None


def _aspect_ok(a: tuple[int, int], b: tuple[int, int], tol: float = 0.04) -> bool:
    ra, rb = a[0] / a[1], b[0] / b[1]
    return abs(ra - rb) / rb <= tol or abs(ra - 1 / rb) * rb <= tol  # allow a 90-degree rotation


def metadata_score(meta: dict, thumbnail_size: tuple[int, int] | None = None) -> tuple[float, list[Evidence]]:
    """Score 0..1 of how camera-original the metadata looks, with one evidence item per contribution."""
    meta = meta or {}
    ev: list[Evidence] = []

    def add(name: str, source: str, value, reason: str) -> None:
        weight = CAMERA_WEIGHTS.get(name, PENALTIES.get(name, 0.0))
        effect = "real" if weight > 0 else "fake"
        ev.append(item("metadata_score", source, value, effect, reason, weight=weight))

    make, model = find(meta, "Make"), find(meta, "Model")
    if make and model:
        add("make_model", "EXIF:Make/Model", f"{make} {model}", "camera make and model recorded")
    notes = sorted(k for k in meta if k.startswith("MakerNotes:"))
    if notes:
        add("maker_notes", "MakerNotes", f"{len(notes)} tags", "vendor maker notes present")
    for name, tags in _PRESENCE.items():
        value = find(meta, *tags)
        if value is not None:
            add(name, tags[0], value, f"{tags[0]} recorded")

    size = _decoded_size(meta)
    if find(meta, "ThumbnailImage", "ThumbnailLength", "PreviewImage") is not None:
        add("thumbnail", "EXIF:ThumbnailImage", True, "embedded thumbnail present")
        # DCF cameras pad thumbnails to 160x120 whatever the sensor aspect: not comparable.
        if size and thumbnail_size and all(thumbnail_size) and sorted(thumbnail_size) != [120, 160]:
            if _aspect_ok(thumbnail_size, size):
                add("thumbnail_consistent", "EXIF:ThumbnailImage", list(thumbnail_size),
                    "thumbnail aspect matches the image")
            else:
                add("thumbnail_mismatch", "EXIF:ThumbnailImage", list(thumbnail_size),
                    "thumbnail aspect differs from the image: cropped after capture")
    ew, eh = _int(find(meta, "ExifImageWidth")), _int(find(meta, "ExifImageHeight"))
    if size and ew and eh:
        if (ew, eh) in (size, size[::-1]):
            add("dimensions_consistent", "EXIF:ExifImageWidth/Height", f"{ew}x{eh}",
                "EXIF dimensions match the decoded image")
        else:
            add("dimensions_mismatch", "EXIF:ExifImageWidth/Height", f"{ew}x{eh} vs {size[0]}x{size[1]}",
                "EXIF dimensions differ from the image: resized or cropped")

    editor = editing_software(meta)
    if editor:
        add("editing_software", editor[0], editor[1], f"written by editing software ({editor[1]})")

    original, modified = exif_date(find(meta, "DateTimeOriginal")), exif_date(find(meta, "ModifyDate"))
    created = exif_date(find(meta, "CreateDate"))
    if original and modified and (modified - original).total_seconds() < -60:
        add("impossible_dates", "EXIF:ModifyDate", str(modified), "modified before it was taken")
    elif original and created and abs((created - original).total_seconds()) > _DAY:
        add("impossible_dates", "EXIF:CreateDate", str(created), "creation and capture dates disagree")
    elif original and modified and (modified - original).total_seconds() > _DAY:
        add("modified_later", "EXIF:ModifyDate", str(modified), "modified more than a day after capture")

    score = min(1.0, max(0.0, BASE + sum(e["weight"] for e in ev)))
    if not ev:
        ev.append(item("metadata_score", "exiftool", None, "neutral",
                       "no camera metadata: weak evidence either way (most web images have none)", weight=0.0))
    return round(score, 3), ev


def thumbnail_size(path: str) -> tuple[int, int] | None:
    """Size of the JPEG thumbnail embedded in the EXIF block, if any (cheap: first 64 KiB only)."""
    from io import BytesIO

    from PIL import Image

    try:
        with open(path, "rb") as fh:
            head = fh.read(65536)
        start = head.find(b"\xff\xd8\xff", 2)
        if start < 0:
            return None
        with Image.open(BytesIO(head[start:])) as thumb:
            return thumb.size
    except (OSError, ValueError, Image.DecompressionBombError):
        return None
