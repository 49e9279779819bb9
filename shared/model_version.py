"""The version a model gives its analyses (`Analysis.model_version`), read from its files without loading it.

A .keras/.h5 detector's version is its file's SHA-256; an ensemble spec's is the SHA-256 of the spec followed by
its members' versions, so changing any file changes it. The worker (worker/detector.py) stamps analyses with it;
the web tier computes the same value here without TensorFlow, to know which analyses are made by an older model.
"""
from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable
from pathlib import Path

from shared.storage import sha256_file as file_sha256


def combine(spec: bytes, member_versions: Iterable[str]) -> str:
    """An ensemble's version from its spec's bytes and its members' versions."""
    digest = hashlib.sha256(spec)
    for version in member_versions:
        digest.update(version.encode())
    return digest.hexdigest()


def of(path: Path | str) -> str:
    """The version of the model at `path` (MODEL_PATH): an ensemble spec (.json) or a single detector file."""
    path = Path(path)
    if path.suffix != ".json":
        return file_sha256(path)
    spec = path.read_bytes()
    return combine(spec, (file_sha256(path.parent / m["file"]) for m in json.loads(spec)["members"]))


def current(path: Path | str) -> str | None:
    """of(path) for a page to compare with, hashed once per process until the files change; None when the model
    is not there (a web image without the models)."""
    path = Path(path)
    try:
        stamp = tuple(p.stat().st_mtime_ns for p in _files(path))
    except (OSError, ValueError, KeyError):
        return None
    return _cached(str(path), stamp)


def _files(path: Path) -> list[Path]:
    if path.suffix != ".json":
        return [path]
    return [path, *(path.parent / m["file"] for m in json.loads(path.read_bytes())["members"])]


@functools.lru_cache(maxsize=4)
def _cached(path: str, _stamp: tuple[int, ...]) -> str:
    return of(path)
