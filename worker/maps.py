"""Write the forensic maps of one image next to its analysis."""
from __future__ import annotations

from pathlib import Path

from PIL import Image

from worker.signals import forensics

TITLES = {"ela": "Error level analysis", "noise": "Noise residual"}


def write_maps(img: Image.Image, folder: Path) -> list[dict[str, str]]:
    """Compute each map, save it as PNG in `folder`, and describe it (name, title, what it can show)."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for key, make in (("ela", forensics.ela_map), ("noise", forensics.noise_map)):
        name = f"{key}.png"
        make(img).save(folder / name, "PNG", optimize=False)
        written.append({"name": name, "title": TITLES[key], "label": forensics.MAP_LABELS[key]})
    return written
