"""Content-addressed file storage: an upload lives at UPLOAD_DIR/ab/cd/<sha256>."""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import BinaryIO

CHUNK = 1024 * 1024


class TooLarge(Exception):
    """The stream is longer than the allowed size."""


def path_for(upload_dir: Path, sha256: str) -> Path:
    """Where the file with this digest lives (the digest is hex, so it is never a path trick)."""
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise ValueError("not a sha256 hex digest")
    return upload_dir / sha256[:2] / sha256[2:4] / sha256


def derived_dir(upload_dir: Path, sha256: str) -> Path:
    """Folder for files derived from one upload (thumbnail, forensic maps)."""
    return upload_dir / "derived" / sha256[:2] / sha256


def save_stream(stream: BinaryIO, upload_dir: Path, max_bytes: int) -> tuple[str, int, Path, bool]:
    """Stream to a temporary file while hashing, then move into place; returns (sha256, size, path, created).

    Raises TooLarge without leaving anything behind when the stream exceeds max_bytes.
    """
    upload_dir.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    fd, tmp = tempfile.mkstemp(dir=upload_dir, prefix=".incoming-")
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise TooLarge(f"file is larger than {max_bytes // (1024 * 1024)} MB")
                digest.update(chunk)
                out.write(chunk)
        sha = digest.hexdigest()
        final = path_for(upload_dir, sha)
        final.parent.mkdir(parents=True, exist_ok=True)
        created = not final.exists()
        if created:
            os.replace(tmp, final)
        else:
            os.unlink(tmp)
        return sha, size, final, created
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
