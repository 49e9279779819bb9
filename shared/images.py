"""Recognise accepted image types from their bytes, never from names or declared types."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# The usual file-name extensions of each accepted type: only a hint for the browser's file picker and the upload
# page's early check (a folder's other files are left out); the server decides by the bytes (sniff).
EXTENSIONS = {"JPEG": (".jpg", ".jpeg", ".jpe", ".jfif"), "PNG": (".png",), "WebP": (".webp",),
              "TIFF": (".tif", ".tiff"), "BMP": (".bmp",), "GIF": (".gif",), "HEIC/HEIF": (".heic", ".heif", ".avif")}
EXTENSIONS_LIST = [ext for exts in EXTENSIONS.values() for ext in exts]
ACCEPTED = ", ".join(EXTENSIONS)  # "JPEG, PNG, WebP, TIFF, BMP, GIF, HEIC/HEIF"
# what the web and the command line say of a file they refuse, in the same words
EMPTY = "the file is empty"
NOT_ACCEPTED = f"unsupported file type: accepted types are {ACCEPTED} (checked from the file's bytes)"
UNREADABLE = "the file could not be read as an image: it may be damaged, cut short, or not the type its bytes begin as"
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"avif"}


@dataclass(frozen=True)
class Kind:
    name: str
    media_type: str


def sniff(head: bytes) -> Kind | None:
    """The image type of a file from its first bytes (at least 32), or None when not accepted."""
    if head.startswith(b"\xff\xd8\xff"):
        return Kind("JPEG", "image/jpeg")
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return Kind("PNG", "image/png")
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return Kind("WebP", "image/webp")
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return Kind("TIFF", "image/tiff")
    if head[:2] == b"BM" and len(head) >= 18:
        return Kind("BMP", "image/bmp")
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return Kind("GIF", "image/gif")
    if head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS:
        return Kind("HEIF", "image/heif")
    return None


def sniff_file(path: Path) -> Kind | None:
    """sniff() on a file's first bytes."""
    with open(path, "rb") as fh:
        return sniff(fh.read(64))
