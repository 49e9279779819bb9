"""Extra modern AI images from PyPI, normalised exactly like ../shared/datasets/train.

    python -m models.extra_data [--dest data/extra]

Downloads ``comfyui-workflow-templates-media-image`` (template outputs of Flux 2, GPT-Image 2,
Nano Banana, Qwen-Image, Z-Image, Grok, ... ; MIT) and its index ``comfyui-workflow-templates-json``
to tell generated outputs from user-supplied inputs, keeps only outputs of image templates not
already in ../shared (by template name), crops a 12 % border (provider badges), converts to RGB,
downscales so the short side is at most 512 px, drops metadata and saves JPEG quality 88, into
``data/extra/fake/comfyui-media-image/`` (git-ignored).
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

from PIL import Image

from models import data

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DEST = ROOT / "data" / "extra"
MEDIA = "comfyui-workflow-templates-media-image==0.3.160"
INDEX = "comfyui-workflow-templates-json==0.1.123"
FOLDER = "fake/comfyui-media-image"
BORDER = 0.12


def _wheel(cache: Path, spec: str) -> Path:
    name = spec.split("==")[0].replace("-", "_")
    found = sorted(cache.glob(f"{name}-*.whl"))
    if not found:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(cache), spec],
                       check=True)
        found = sorted(cache.glob(f"{name}-*.whl"))
    return found[-1]


def _outputs(index_whl: Path) -> set[str]:
    """File names (name-k.webp) that are generated outputs of image templates."""
    with zipfile.ZipFile(index_whl) as z:
        idx = json.loads(z.read("comfyui_workflow_templates_json/templates/index.json"))
    return {f"{t['name']}-{k + 1}.webp" for cat in idx if cat.get("type") == "image"
            for t in cat["templates"] for k, p in enumerate(t.get("thumbnail", [])) if p.startswith("output/")}


def normalise_like_dataset(img: Image.Image, border: float = BORDER) -> Image.Image:
    """RGB, border crop, short side <= 512 (never upscaled)."""
    img = img.convert("RGB")
    w, h = img.size
    dx, dy = round(w * border), round(h * border)
    img = img.crop((dx, dy, w - dx, h - dy))
    s = 512 / min(img.size)
    if s < 1:
        img = img.resize((round(img.width * s), round(img.height * s)), Image.Resampling.LANCZOS)
    return img


def prepare(dest: Path = DEFAULT_DEST, cache: Path | None = None) -> Path:
    """Build dest/fake/comfyui-media-image once; returns dest (a folder with fake/)."""
    out = Path(dest) / FOLDER
    if out.is_dir() and any(out.glob("*.jpg")):
        return Path(dest)
    cache = Path(cache or Path(dest) / "wheels")
    cache.mkdir(parents=True, exist_ok=True)
    keep = _outputs(_wheel(cache, INDEX))
    shared = data.default_data_dir() / "fake" / "comfyui-templates"
    known = {p.stem.rsplit("-", 1)[0] for p in shared.glob("*.jpg")}
    out.mkdir(parents=True, exist_ok=True)
    n = 0
    with zipfile.ZipFile(_wheel(cache, MEDIA)) as z:
        for member in sorted(z.namelist()):
            fname = member.rsplit("/", 1)[-1]
            if fname not in keep or fname.rsplit("-", 1)[0] in known:
                continue
            img = normalise_like_dataset(Image.open(io.BytesIO(z.read(member))))
            img.save(out / (fname[:-5] + ".jpg"), "JPEG", quality=88)
            n += 1
    print(f"extra data: {n} images in {out}")
    return Path(dest)


def main(argv=None) -> int:
    """CLI entry point."""
    ap = argparse.ArgumentParser(description="download and normalise extra modern AI images")
    ap.add_argument("--dest", default=str(DEFAULT_DEST))
    args = ap.parse_args(argv)
    prepare(Path(args.dest))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
