"""Content-addressed file storage behind one small interface: a local folder, or S3-compatible object storage.

An upload is stored under its SHA-256 (`ab/cd/<sha256>`), the files derived from it (thumbnail, forensic maps)
under `derived/ab/<sha256>/<name>`. STORAGE_URL chooses the backend (`Settings.object_store`): unset, the folder
UPLOAD_DIR (`LocalStore`); `s3://...`, a bucket (`shared.s3store.S3Store`), so web and workers on different
machines need no shared disk. Whatever needs a file on disk (Pillow's header check, exiftool, the decoders) gets
one from `incoming()`, `fetch()` or `derived_writer()`: the local store hands out its own paths, the object store
copies into this machine's scratch folder and removes the copies when the block ends.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO

from shared.settings import Settings

CHUNK = 1024 * 1024
DERIVED_NAME = re.compile(r"^[a-z0-9_]{1,40}\.(png|jpg)$")  # thumbnail.jpg, ela.png, ...: never a path
SPOOL_PREFIX = ".incoming-"


class TooLarge(Exception):
    """The stream is longer than the allowed size."""


class Unavailable(Exception):
    """The object store did not answer; the same call later may succeed (a 503 in the web, a retry in a task)."""


def path_for(upload_dir: Path, sha256: str) -> Path:
    """Where the file with this digest lives (the digest is hex, so it is never a path trick)."""
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise ValueError("not a sha256 hex digest")
    return upload_dir / sha256[:2] / sha256[2:4] / sha256


def derived_dir(upload_dir: Path, sha256: str) -> Path:
    """Folder for files derived from one upload (thumbnail, forensic maps)."""
    return upload_dir / "derived" / sha256[:2] / sha256


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class Incoming:
    """An upload spooled to a local file while it was hashed; `created` says whether keeping it stored new bytes."""

    sha256: str
    size: int
    path: Path
    created: bool = False


def _spool(stream: BinaryIO, folder: Path, max_bytes: int) -> Incoming:
    """Copy the stream into a new file in `folder` while hashing; TooLarge (and nothing left) past max_bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=SPOOL_PREFIX)
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise TooLarge(f"file is larger than {max_bytes // (1024 * 1024)} MB")
                digest.update(chunk)
                out.write(chunk)
    except BaseException:
        os.unlink(tmp)
        raise
    return Incoming(digest.hexdigest(), size, Path(tmp))


class Store(ABC):
    """Uploads by digest and the files derived from them; the same behaviour on every backend."""

    def __init__(self, scratch: Path):
        self.scratch = scratch  # this machine's local copies; each is removed when its block ends

    def prepare(self) -> None:
        """Make the place exist (the folder, the bucket); run once per deployment (`python -m shared.migrate`)."""

    @abstractmethod
    def check(self) -> None:
        """Raise Unavailable unless the store answers and its place exists (the web's /readyz)."""

    @contextmanager
    def incoming(self, stream: BinaryIO, max_bytes: int) -> Iterator[Incoming]:
        """Spool and hash the stream; the block checks the local file; it is stored when the block ends cleanly.

        Raises TooLarge past max_bytes. A block that raises (the file was refused) stores nothing.
        """
        item = _spool(stream, self._spool_dir(), max_bytes)
        try:
            yield item
            item.created = self._keep(item)
        finally:
            item.path.unlink(missing_ok=True)

    def prune_scratch(self, max_age_s: float) -> int:
        """Remove local copies and spools older than max_age_s (left by a killed process); returns how many."""
        cutoff, n = time.time() - max_age_s, 0
        for folder in {self.scratch, self._spool_dir()}:
            for entry in folder.iterdir() if folder.is_dir() else []:
                if (folder == self.scratch or entry.name.startswith(SPOOL_PREFIX)) and entry.lstat().st_mtime < cutoff:
                    shutil.rmtree(entry) if entry.is_dir() else entry.unlink(missing_ok=True)
                    n += 1
        return n

    def _spool_dir(self) -> Path:
        return self.scratch

    @abstractmethod
    def _keep(self, item: Incoming) -> bool:
        """Store the spooled file under its digest unless already there; True when this call stored it."""

    @abstractmethod
    def exists(self, sha256: str) -> bool:
        """Whether the upload with this digest is stored."""

    @abstractmethod
    def fetch(self, shas: list[str]) -> Iterator[list[Path]]:
        """A context manager: local paths of these uploads, for reading inside the block (a missing one's path
        does not exist)."""

    @abstractmethod
    def derived_writer(self, sha256: str) -> Iterator[Path]:
        """A context manager: a local folder to write one upload's derived files into; stored when the block ends."""

    @abstractmethod
    def open_derived(self, sha256: str, name: str) -> BinaryIO | None:
        """One derived file for reading (the caller closes it), or None when there is none."""

    @abstractmethod
    def remove(self, sha256: str) -> None:
        """The upload and everything derived from it."""

    @abstractmethod
    def remove_derived(self, sha256: str) -> None:
        """Only the files derived from this upload."""

    @abstractmethod
    def derived_ages(self) -> dict[str, float]:
        """Every digest that has derived files, with the time (epoch seconds) one was last written."""


class LocalStore(Store):
    """A folder on this machine (UPLOAD_DIR): every process that reads or writes uploads must see it."""

    def __init__(self, root: Path, scratch: Path):
        super().__init__(scratch)
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def _spool_dir(self) -> Path:
        return self.root  # the same file system, so keeping a file is an atomic rename

    def _keep(self, item: Incoming) -> bool:
        final = path_for(self.root, item.sha256)
        if final.exists():
            return False
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(item.path, final)
        return True

    def check(self) -> None:
        if not (self.root.is_dir() and os.access(self.root, os.W_OK)):
            raise Unavailable(f"the upload folder {self.root} is missing or not writable")

    def exists(self, sha256: str) -> bool:
        return path_for(self.root, sha256).is_file()

    @contextmanager
    def fetch(self, shas: list[str]) -> Iterator[list[Path]]:
        yield [path_for(self.root, sha) for sha in shas]  # read in place: nothing to copy or clean up

    @contextmanager
    def derived_writer(self, sha256: str) -> Iterator[Path]:
        folder = derived_dir(self.root, sha256)
        folder.mkdir(parents=True, exist_ok=True)
        yield folder

    def open_derived(self, sha256: str, name: str) -> BinaryIO | None:
        if not DERIVED_NAME.match(name):
            return None
        try:
            return open(derived_dir(self.root, sha256) / name, "rb")
        except (FileNotFoundError, IsADirectoryError):
            return None

    def remove(self, sha256: str) -> None:
        path_for(self.root, sha256).unlink(missing_ok=True)
        self.remove_derived(sha256)

    def remove_derived(self, sha256: str) -> None:
        shutil.rmtree(derived_dir(self.root, sha256), ignore_errors=True)

    def derived_ages(self) -> dict[str, float]:
        root = self.root / "derived"
        return {d.name: d.stat().st_mtime for prefix in (root.iterdir() if root.is_dir() else []) if prefix.is_dir()
                for d in prefix.iterdir() if d.is_dir()}


@lru_cache(maxsize=16)
def _store(settings: Settings, pid: int) -> Store:  # noqa: ARG001 - the pid keys the cache: one client per process
    where = settings.object_store
    if where is None:
        return LocalStore(settings.upload_dir, settings.scratch_dir)
    from shared.s3store import S3Store  # boto3 only where object storage is used

    return S3Store(where, settings.scratch_dir)


def store_for(settings: Settings) -> Store:
    """The store STORAGE_URL names, one per process (an S3 client is not shared across a fork)."""
    return _store(settings, os.getpid())
