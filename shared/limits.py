"""How much the worker takes out of an untrusted file: the one limit on text and decompression.

A file's size is capped at upload, but its metadata can still expand: a 200 KB PNG whose alpha
channel hides a gzip stream inflated to 5.5 GB, and a 200 KB tEXt chunk held a worker for two
minutes in a backtracking regex. So every metadata text the worker parses (PNG tEXt/zTXt/iTXt,
EXIF UserComment, the A1111 "stealth" alpha-channel text) is cut at ``TEXT_MAX_BYTES``, and every
decompression of file data goes through ``inflate``, which never produces more than that.
Pillow's own caps on PNG text (``PngImagePlugin.MAX_TEXT_CHUNK`` per compressed chunk,
``MAX_TEXT_MEMORY`` for all text of a file) are set from the same numbers by ``apply_to_pillow``.
Not here: XMP is parsed out of process by exiftool (under its time limit; the values it returns are
cut at ``worker.exif.MAX_VALUE_CHARS``). C2PA is read in process by c2pa-rs from the stored file
(itself capped by ``MAX_UPLOAD_MB``); c2pa-rs caps its own Brotli boxes at 10 MiB since its PR #2210
(not verified for the bundled sdk), and anything it raises fails only that file (worker.pipeline).

At upload the web reads a PNG's chunk headers (``check_png_text``), never its data: a text chunk longer than the
limit, compressed or not, is refused there, wherever it stands in the file (Pillow reads only the chunks before
the image data when it opens a file, and its uncompressed-text cap is the total one).

Real generator texts are far below the limit: A1111 parameters are a few KiB, ComfyUI workflows
tens to a few hundred KiB.
"""
from __future__ import annotations

import struct
import warnings
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from PIL import Image

TEXT_MAX_BYTES = 1 << 20  # one metadata text, compressed or not, and any decompression's output
TEXT_TOTAL_BYTES = 64 * TEXT_MAX_BYTES  # all text chunks of one file together (Pillow's default too)
GZIP = 31  # zlib wbits for a gzip stream (the stealth text); 15 is a zlib stream (zTXt, iTXt)


class TooManyPixels(Exception):
    """The image's header declares more pixels than allowed; nothing was decoded."""


@contextmanager
def open_image(path: Path, max_pixels: int) -> Iterator[Image.Image]:
    """An untrusted image opened at its first frame, refused before any decoding when it has more than
    ``max_pixels``; inside the block Pillow's bomb warning is an error (the worker's decode and the web's preview)."""
    Image.MAX_IMAGE_PIXELS = max_pixels
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(path) as img:
            if img.width * img.height > max_pixels:  # holds even if another thread reset the warning filter
                raise TooManyPixels(f"image is {img.width}x{img.height}; the limit is {max_pixels:,} pixels")
            img.seek(0)  # animated GIF/WebP/multi-page TIFF: the first frame
            yield img


class TooLarge(ValueError):
    """Decompressed data would exceed TEXT_MAX_BYTES: a decompression bomb, not metadata."""


def inflate(data: bytes, wbits: int = 15, limit: int = TEXT_MAX_BYTES) -> bytes:
    """Decompress at most ``limit`` bytes; raises TooLarge beyond it and zlib.error on corrupt data."""
    stream = zlib.decompressobj(wbits)
    out = stream.decompress(data, limit)
    if not stream.eof and (stream.unconsumed_tail or len(out) >= limit):
        raise TooLarge(f"decompresses to more than {limit:,} bytes")
    return out


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TEXT_CHUNKS = (b"tEXt", b"zTXt", b"iTXt")


def check_png_text(path: Path) -> None:
    """Raise TooLarge when a PNG has a text chunk over TEXT_MAX_BYTES, or more text than TEXT_TOTAL_BYTES.

    Reads 8 bytes per chunk and seeks over its data, so a 50 MB file costs a few reads; not a PNG: nothing to do.
    """
    total = 0
    with open(path, "rb") as fh:
        if fh.read(8) != PNG_SIGNATURE:
            return
        while len(header := fh.read(8)) == 8:
            length, kind = struct.unpack(">I4s", header)
            if kind in TEXT_CHUNKS:
                total += length
                if length > TEXT_MAX_BYTES:
                    raise TooLarge(f"a PNG {kind.decode()} text chunk is {length:,} bytes; the limit of one text "
                                   f"chunk is {TEXT_MAX_BYTES:,} bytes")
                if total > TEXT_TOTAL_BYTES:
                    raise TooLarge(f"the PNG's text chunks hold more than {TEXT_TOTAL_BYTES:,} bytes together")
            if kind == b"IEND":
                return
            fh.seek(length + 4, 1)  # the data and its CRC


def apply_to_pillow() -> None:
    """Make Pillow's PNG text caps the ones above (it reads text chunks when it opens a file)."""
    from PIL import PngImagePlugin

    PngImagePlugin.MAX_TEXT_CHUNK = TEXT_MAX_BYTES
    PngImagePlugin.MAX_TEXT_MEMORY = TEXT_TOTAL_BYTES
