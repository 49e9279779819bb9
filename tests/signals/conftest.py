"""Fixtures for the evidence extractors: the shared samples folder and exiftool."""
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

SHARED = Path(os.environ.get("SHARED_DIR") or Path(__file__).resolve().parents[2].parent / "shared")
SAMPLES = SHARED / "samples"


@pytest.fixture
def samples() -> Path:
    """The ../shared/samples folder, or skip when it is absent."""
    if not SAMPLES.is_dir():
        pytest.skip(f"shared samples not found at {SAMPLES} (set SHARED_DIR)")
    return SAMPLES


@pytest.fixture
def exiftool():
    """Read one file's metadata as the worker does (`exiftool -j -G`), or skip without exiftool."""
    if not shutil.which("exiftool"):
        pytest.skip("exiftool is not installed (apt-get install libimage-exiftool-perl)")

    def read(path) -> dict:
        return read_many([path])[0]

    def read_many(paths) -> list[dict]:
        out = subprocess.run(["exiftool", "-j", "-G", *map(str, paths)], capture_output=True, text=True)
        found = {m["SourceFile"]: m for m in json.loads(out.stdout or "[]")}
        return [found.get(str(p), {}) for p in paths]

    read.many = read_many
    return read
