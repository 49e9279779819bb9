"""Read image entries out of a ZIP safely: bounded counts and sizes, no zip bombs, names for display only."""
from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

EXTENSIONS = [".zip"]  # a hint for the upload page; is_zip() decides
MAX_RATIO = 200  # uncompressed/compressed; real images compress far less than this


@dataclass
class Entry:
    name: str
    stream: BinaryIO | None  # None when refused
    error: str | None = None


class ArchiveError(Exception):
    """The archive as a whole cannot be used."""


def is_zip(head: bytes) -> bool:
    return head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06")


def entries(stream: BinaryIO, max_entries: int, max_entry_bytes: int, max_total_bytes: int) -> Iterator[Entry]:
    """Each file of the archive, read into memory within the limits, or refused with a reason."""
    try:
        archive = zipfile.ZipFile(stream)
        infos = [i for i in archive.infolist() if not i.is_dir()]
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ArchiveError(f"not a readable ZIP archive ({exc})") from None
    if len(infos) > max_entries:
        raise ArchiveError(f"the archive has {len(infos)} files; the limit is {max_entries}")
    total = 0
    for info in infos:
        name = info.filename.replace("\\", "/").rsplit("/", 1)[-1] or info.filename
        if info.flag_bits & 0x1:
            yield Entry(name, None, "encrypted archive entries are not supported")
            continue
        if info.file_size > max_entry_bytes:
            yield Entry(name, None, f"entry is larger than {max_entry_bytes // (1024 * 1024)} MB")
            continue
        if info.compress_size and info.file_size / info.compress_size > MAX_RATIO and info.file_size > 1 << 20:
            yield Entry(name, None, "suspicious compression ratio (zip bomb?)")
            continue
        try:
            with archive.open(info) as fh:
                data = fh.read(max_entry_bytes + 1)  # the declared size can lie: read at most the limit
        except (zipfile.BadZipFile, OSError, NotImplementedError, EOFError) as exc:
            yield Entry(name, None, f"unreadable archive entry ({exc.__class__.__name__})")
            continue
        if len(data) > max_entry_bytes:
            yield Entry(name, None, f"entry is larger than {max_entry_bytes // (1024 * 1024)} MB")
            continue
        total += len(data)
        if total > max_total_bytes:
            raise ArchiveError(f"the archive unpacks to more than {max_total_bytes // (1024 * 1024)} MB")
        if is_zip(data[:4]):
            yield Entry(name, None, "archives inside archives are not opened")
            continue
        yield Entry(name, io.BytesIO(data))
