"""Reviewed files as a regression set: read a labels export (GET /api/v1/labels/export) and find its files.

A record's file is looked for, in order: in the storage layout under DIR (DIR/ab/cd/<sha256>, i.e. DIR is a
server's UPLOAD_DIR or a copy of it), as DIR/<sha256>, then by its file name anywhere under DIR. A file found by
name is used only when its SHA-256 matches the record, so a different file of the same name is never scored.
"unsure" labels are skipped: they are not a class.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from models.data import Item
from shared import storage

CLASSES = {"real": 0, "fake": 1}
_CSV_GUARDED = ("=", "+", "-", "@", "\t", "\r")  # web/batches/export.py prefixes such text with "'"


@dataclass
class LabelSet:
    items: list[Item] = field(default_factory=list)
    missing: list[dict] = field(default_factory=list)  # records whose file was not found (or did not match)
    skipped: int = 0  # unsure labels


def read_export(path: str | Path) -> list[dict]:
    """The records of a CSV or JSON Lines export (told apart by the first character)."""
    text = Path(path).read_text(encoding="utf-8")
    if text.lstrip().startswith("{"):
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    rows = list(csv.DictReader(text.splitlines()))
    for row in rows:
        name = row.get("filename") or ""
        if name[:1] == "'" and name[1:2] in _CSV_GUARDED:
            row["filename"] = name[1:]
    return rows


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(storage.CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _by_name(root: Path) -> dict[str, list[Path]]:
    """Every file under root by its name (one walk)."""
    index: dict[str, list[Path]] = {}
    for folder, _dirs, names in os.walk(root):
        for name in names:
            index.setdefault(name, []).append(Path(folder) / name)
    return index


def find(record: dict, root: Path, index: dict[str, list[Path]]) -> Path | None:
    """The file of one record under root, or None (see the module docstring for the order)."""
    sha = (record.get("sha256") or "").lower()
    try:
        candidates = [storage.path_for(root, sha), root / sha]
    except ValueError:
        return None
    for path in candidates:
        if path.is_file():
            return path
    for path in index.get(Path(record.get("filename") or "").name, []):
        if _sha256(path) == sha:
            return path
    return None


def load(export: str | Path, files: str | Path) -> LabelSet:
    """Items (label 1 = fake) for every real or fake record whose file is under `files`."""
    root, out = Path(files), LabelSet()
    index = _by_name(root)
    for record in read_export(export):
        label = CLASSES.get(record.get("label"))
        if label is None:
            out.skipped += 1
            continue
        path = find(record, root, index)
        if path is None:
            out.missing.append(record)
            continue
        out.items.append(Item(str(path), label, f"{record['label']}/labels", record["sha256"]))
    return out
