"""PNG text chunks (tEXt, zTXt, iTXt) read straight from the file, each one bounded.

Pillow's ``im.text`` decodes every pixel to reach the chunks after IDAT, and keeps an uncompressed
tEXt of any length. Here the pixel data is skipped, each text is read and inflated to at most
``shared.limits.TEXT_MAX_BYTES`` and all of them to ``TEXT_TOTAL_BYTES``; what is beyond is cut
(a compressed text that inflates beyond the limit is dropped whole).
"""
from __future__ import annotations

import struct
import zlib

from shared.limits import TEXT_MAX_BYTES, TEXT_TOTAL_BYTES, TooLarge, inflate

SIGNATURE = b"\x89PNG\r\n\x1a\n"
_TEXT_KINDS = (b"tEXt", b"zTXt", b"iTXt")


def png_texts(path: str) -> dict[str, str]:
    """Keyword to text for every text chunk of a PNG (first wins); {} for anything else."""
    out: dict[str, str] = {}
    budget = TEXT_TOTAL_BYTES
    with open(path, "rb") as fh:
        if fh.read(8) != SIGNATURE:
            return out
        while budget > 0:
            head = fh.read(8)
            if len(head) < 8:
                break
            length, kind = struct.unpack(">I4s", head)
            if kind == b"IEND":
                break
            if kind not in _TEXT_KINDS:
                fh.seek(length + 4, 1)  # pixel data and other chunks: skipped, not read
                continue
            data = fh.read(min(length, TEXT_MAX_BYTES))
            fh.seek(length - len(data) + 4, 1)
            parsed = _text(kind, data)
            if parsed:
                key, text = parsed
                text = text[:budget]
                budget -= len(text)
                out.setdefault(key, text)
    return out


def _text(kind: bytes, data: bytes) -> tuple[str, str] | None:
    """(keyword, text) of one chunk's data, the text cut at TEXT_MAX_BYTES; None when malformed."""
    key, sep, rest = data.partition(b"\0")
    if not sep or not key:
        return None
    try:
        if kind == b"tEXt":
            return key.decode("latin-1"), rest.decode("latin-1")
        if kind == b"zTXt":
            return key.decode("latin-1"), inflate(rest[1:]).decode("latin-1")
        compressed, _method, rest = rest[:1] == b"\1", rest[1:2], rest[2:]
        _lang, _, rest = rest.partition(b"\0")
        _translated, _, body = rest.partition(b"\0")
        return key.decode("latin-1"), (inflate(body) if compressed else body).decode("utf-8", "replace")
    except (zlib.error, TooLarge):  # corrupt, or a bomb (which Pillow refuses when it decodes the file)
        return None
