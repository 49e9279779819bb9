"""Extra modern AI images from the ComfyUI workflow-template media packages on PyPI.

    python -m models.extra_data [--dest data/extra]

Every generated still, and the middle frame of every generated video, of the ComfyUI workflow
templates (Flux 1/2/3, GPT-Image, Nano Banana, Seedream, Qwen-Image, Kling, Veo, Wan, Hunyuan, ...;
MIT), normalised exactly like ``../shared/datasets/train``: 12 % border crop (provider badges), RGB,
short side at most 512 px (never upscaled), no metadata, JPEG quality 88. Written to
``data/extra/fake/comfyui-media-<package>/`` (git-ignored); cross-validation holds every ComfyUI
folder out together with ``../shared``'s ``comfyui-templates`` (one family, ``models.folds``).

Which file is generated comes from the templates' index (``comfyui-workflow-templates-json``):
a thumbnail listed as ``output/...`` is kept, ``input/...`` is dropped (a user-supplied photo),
and an unlabelled thumbnail is kept only when the template loads no image or video at all (then
nothing on it can be an input). Categories that are not pictures of a scene (3D, audio, LLM,
vector graphics) are skipped, and so are templates whose name is already in ``../shared``.
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
# Pinned so that the extra set (and so the shipped model) is reproducible.
MEDIA = ("comfyui-workflow-templates-media-image==0.3.160", "comfyui-workflow-templates-media-video==0.3.101",
         "comfyui-workflow-templates-media-api==0.3.84", "comfyui-workflow-templates-media-other==0.3.229",
         "comfyui-workflow-templates-media-assets-01==0.1.48", "comfyui-workflow-templates-media-assets-02==0.1.24")
INDEX = "comfyui-workflow-templates-json==0.1.123"
PREFIX = "fake/comfyui-media-"
BORDER = 0.12
KINDS = {"image", "video"}
SKIP_CATEGORIES = {"Vector"}  # flat graphics: would teach "illustration = AI"
INPUT_NODES = {"LoadImage", "LoadVideo", "LoadImageMask", "VHS_LoadVideo"}
IMAGE_EXTS = (".webp", ".png", ".jpg", ".jpeg")


def _wheel(cache: Path, spec: str) -> Path:
    name = spec.split("==")[0].replace("-", "_")
    version = spec.split("==")[1]
    found = sorted(cache.glob(f"{name}-{version}-*.whl"))
    if not found:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(cache), spec],
                       check=True)
        found = sorted(cache.glob(f"{name}-{version}-*.whl"))
    return found[-1]


def generated_files(index: list[dict]) -> set[str]:
    """Thumbnail file names (``name-k``, no extension) that are generated outputs."""
    keep = set()
    for cat in index:
        if cat.get("type") not in KINDS or cat.get("title") in SKIP_CATEGORIES:
            continue
        for t in cat["templates"]:
            inputs = [i for i in (t.get("io") or {}).get("inputs", []) if i.get("nodeType") in INPUT_NODES]
            thumbs = t.get("thumbnail") or []
            for k in range(1, max(len(thumbs), 4) + 1):
                where = thumbs[k - 1].split("/")[0] if k <= len(thumbs) else None
                if where == "output" or (where != "input" and not inputs):
                    keep.add(f"{t['name']}-{k}")
    return keep


def middle_frame(img: Image.Image) -> Image.Image:
    """The middle frame of an animated image (a generated video); the image itself otherwise."""
    n = getattr(img, "n_frames", 1)
    if n > 1:
        img.seek(n // 2)
    return img


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


def _package_folder(spec: str) -> str:
    return PREFIX + spec.split("==")[0].rsplit("media-", 1)[1]


def prepare(dest: Path = DEFAULT_DEST, cache: Path | None = None) -> Path:
    """Build dest/fake/comfyui-media-* once; returns dest (a folder with fake/)."""
    dest = Path(dest)
    stamp = dest / ".complete"
    if stamp.is_file() and stamp.read_text() == json.dumps([INDEX, *MEDIA]):
        return dest
    cache = Path(cache or dest / "wheels")
    cache.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(_wheel(cache, INDEX)) as z:
        keep = generated_files(json.loads(z.read("comfyui_workflow_templates_json/templates/index.json")))
    shared = data.default_data_dir() / "fake" / "comfyui-templates"
    seen = {p.stem.rsplit("-", 1)[0] for p in shared.glob("*.jpg")}  # templates ../shared already has
    total = 0
    for spec in MEDIA:
        out = dest / _package_folder(spec)
        out.mkdir(parents=True, exist_ok=True)
        n = 0
        with zipfile.ZipFile(_wheel(cache, spec)) as z:
            for member in sorted(z.namelist()):
                stem, ext = Path(member).stem, Path(member).suffix.lower()
                template = stem.rsplit("-", 1)[0]
                if ext not in IMAGE_EXTS or stem not in keep or template in seen:
                    continue
                with Image.open(io.BytesIO(z.read(member))) as im:
                    img = normalise_like_dataset(middle_frame(im))
                if min(img.size) < 64:
                    continue
                img.save(out / f"{stem}.jpg", "JPEG", quality=88)
                n += 1
        # a template shipped in two packages is kept once (first package wins)
        seen |= {p.stem.rsplit("-", 1)[0] for p in out.glob("*.jpg")}
        print(f"extra data: {n} images in {out}")
        total += n
    stamp.write_text(json.dumps([INDEX, *MEDIA]))
    print(f"extra data: {total} images in all")
    return dest


def main(argv=None) -> int:
    """CLI entry point."""
    ap = argparse.ArgumentParser(description="download and normalise extra modern AI images")
    ap.add_argument("--dest", default=str(DEFAULT_DEST))
    args = ap.parse_args(argv)
    prepare(Path(args.dest))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
