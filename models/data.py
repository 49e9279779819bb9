"""Dataset listing and the deterministic held-out split (by source image / prompt, per folder)."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

EXTS = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".heic"}
VAL_FRACTION = 0.2
# imagen-2022 generators share prompts: keep every output of one prompt on the same side.
_PROMPT_SUFFIX = re.compile(r"-(glid3|ldif|dmin|disco|simu|stab|mdif)-\d+$")
_VARIANT_SUFFIX = re.compile(r"-\d+$")


@dataclass(frozen=True)
class Item:
    """One labelled image: path, label (1 = AI-generated), source folder, split group."""

    path: str
    label: int
    source: str
    group: str


def shared_dir() -> Path:
    """../shared next to the repository, or $SHARED_DIR."""
    env = os.environ.get("SHARED_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared"


def default_data_dir() -> Path:
    """The training data folder holding real/ and fake/."""
    return shared_dir() / "datasets" / "train"


def group_key(source: str, stem: str) -> str:
    """Images sharing a key are never split between train and validation."""
    if source.startswith("fake/imagen-2022"):
        return "imagen-2022:" + _PROMPT_SUFFIX.sub("", stem)
    if source.startswith("fake/comfyui"):  # all ComfyUI template folders share one namespace
        return "fake/comfyui-templates:" + _VARIANT_SUFFIX.sub("", stem)
    return source + ":" + stem


def list_items(root: str | Path) -> list[Item]:
    """Every image under root/real and root/fake (any nesting); source = class/first-level folder."""
    root = Path(root)
    items = []
    for cls, label in (("real", 0), ("fake", 1)):
        base = root / cls
        for p in sorted(base.rglob("*")):
            if p.suffix.lower() not in EXTS or not p.is_file():
                continue
            rel = p.relative_to(base).parts
            source = f"{cls}/{rel[0]}" if len(rel) > 1 else cls
            items.append(Item(str(p), label, source, group_key(source, p.stem)))
    return items


def is_val(item: Item, fraction: float = VAL_FRACTION) -> bool:
    """Deterministic hash split on the group key."""
    h = int(hashlib.sha1(item.group.encode()).hexdigest()[:8], 16)
    return h % 1000 < fraction * 1000


def split(items: list[Item]) -> tuple[list[Item], list[Item]]:
    """(train, val) by group hash."""
    train = [i for i in items if not is_val(i)]
    val = [i for i in items if is_val(i)]
    return train, val
