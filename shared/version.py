"""The service's version: pyproject.toml's `[project] version`, the one place it is written.

A checkout (or the Docker image, which copies one) reads the file itself, so a bumped version shows without a
reinstall; an installed wheel without the file reads the same value from its package metadata.
"""
from __future__ import annotations

import functools
import importlib.metadata
import tomllib

from shared.settings import ROOT

NAME = "deepfake-detect"


@functools.cache
def service_version() -> str:
    """The version string, e.g. "0.1.0" ("unknown" only for a copy that is neither a checkout nor installed)."""
    pyproject = ROOT / "pyproject.toml"
    if pyproject.is_file():
        project = tomllib.loads(pyproject.read_text()).get("project", {})
        if project.get("name") == NAME and project.get("version"):
            return str(project["version"])
    try:
        return importlib.metadata.version(NAME)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"
