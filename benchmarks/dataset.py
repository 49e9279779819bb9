"""The benchmark's image set: real files from ../shared in three size bands, 0.3-12 MP.

../shared has few large photos (about ten camera files over 1 MP), so the 1-4 MP and 4-12 MP
bands are filled with real photos upscaled (Lanczos, JPEG q90, camera EXIF kept when the source
has it) to a random size in the band. Upscaled files are written once to a cache folder outside
the repository, keyed by the recipe, and reused by later runs.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import random
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from PIL import Image, ImageOps

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
BANDS = {"0.3-1MP": (0.3, 1.0), "1-4MP": (1.0, 4.0), "4-12MP": (4.0, 12.0)}
SHARES = {"0.3-1MP": 0.5, "1-4MP": 0.25, "4-12MP": 0.25}
RECIPE = 4  # bump when the selection or upscaling changes
SOURCES = ("samples/camera-exif/jpg", "datasets/train/real/amfd-faces", "datasets/train/real/imagenet-sample",
           "datasets/train/real/imagenet-imagen", "datasets/train/real/bsds500")
CACHE = Path(os.environ.get("BENCH_CACHE", Path(tempfile.gettempdir()) / "deepfake-bench-images"))


@dataclass
class BenchImage:
    """One file of the set: where it is, how big, and how it was made."""

    path: str
    band: str
    megapixels: float
    origin: str  # "original" or "upscaled from <source>"


def _probe(path: Path) -> tuple[float, int] | None:
    """(megapixels, 64-bit difference hash) of a decodable file, else None."""
    try:
        with Image.open(path) as im:
            img = ImageOps.exif_transpose(im).convert("RGB")
            mp = im.width * im.height / 1e6
    except Exception:  # broken samples (corrupted.jpg, tests/*_error.jpg) are not benchmark material
        return None
    g = img.convert("L").resize((9, 8), Image.Resampling.BILINEAR).tobytes()
    bits = [g[r * 9 + c] > g[r * 9 + c + 1] for r in range(8) for c in range(8)]
    return mp, sum(b << i for i, b in enumerate(bits))


def _originals() -> list[tuple[Path, float]]:
    """Decodable real photos from ../shared with their size in MP, near-duplicates dropped (the
    service may answer a perceptual duplicate from an earlier analysis, which would flatter it)."""
    listing = CACHE / f"pool-{RECIPE}.json"
    if listing.exists():
        return [(Path(p), mp) for p, mp in json.loads(listing.read_text())]
    out, hashes = [], []
    for folder in SOURCES:
        for p in sorted((SHARED / folder).rglob("*")):
            if p.suffix.lower() not in (".jpg", ".jpeg") or "invalid" in p.parts:
                continue
            probe = _probe(p)
            if probe and all((probe[1] ^ h).bit_count() > 12 for h in hashes):
                out.append((p, probe[0]))
                hashes.append(probe[1])
    CACHE.mkdir(parents=True, exist_ok=True)
    listing.write_text(json.dumps([(str(p), mp) for p, mp in out]))
    return out


def _upscaled(src: Path, mp: float, out: Path) -> Path:
    if not out.exists():
        with Image.open(src) as im:
            exif = im.info.get("exif")
            img = ImageOps.exif_transpose(im).convert("RGB")
        scale = math.sqrt(mp * 1e6 / (img.width * img.height))
        img = img.resize((round(img.width * scale), round(img.height * scale)), Image.Resampling.LANCZOS)
        tmp = out.with_suffix(".part")
        kwargs = {"exif": _upright_exif(exif)} if exif else {}
        img.save(tmp, "JPEG", quality=90, **kwargs)
        tmp.rename(out)
    return out


def _upright_exif(exif: bytes) -> bytes:
    e = Image.Exif()
    e.load(exif)
    e[0x0112] = 1  # pixels are already upright
    return e.tobytes()


def build(n: int, seed: int = 7) -> list[BenchImage]:
    """n images: half 0.3-1 MP originals, a quarter each 1-4 MP and 4-12 MP (originals first, then upscaled)."""
    rng = random.Random(seed)
    pool = _originals()
    key = hashlib.sha256(json.dumps([RECIPE, n, seed, [str(p) for p, _ in pool]]).encode()).hexdigest()[:12]
    cache = CACHE / key
    cache.mkdir(parents=True, exist_ok=True)
    counts = {b: round(n * s) for b, s in SHARES.items()}
    counts["0.3-1MP"] += n - sum(counts.values())
    images: list[BenchImage] = []
    used: set[Path] = set()  # every image comes from a different photo
    for band, (lo, hi) in BANDS.items():
        native = [(p, mp) for p, mp in pool if lo <= mp < hi or (band == "4-12MP" and lo <= mp <= hi)]
        rng.shuffle(native)
        picked = [BenchImage(str(p), band, round(mp, 3), "original") for p, mp in native[:counts[band]]]
        used.update(Path(i.path) for i in picked)
        while len(picked) < counts[band]:
            src = rng.choice([p for p, mp in pool if mp >= 0.15 and p not in used and mp < lo])
            used.add(src)
            mp = math.exp(rng.uniform(math.log(max(lo, 0.32)), math.log(hi)))
            out = _upscaled(src, mp, cache / f"{band}-{len(picked):03d}.jpg")
            with Image.open(out) as im:
                real_mp = im.width * im.height / 1e6
            picked.append(BenchImage(str(out), band, round(real_mp, 3), f"upscaled from {src.relative_to(SHARED)}"))
        images += picked
    rng.shuffle(images)
    return images


def summary(images: list[BenchImage]) -> dict:
    """Counts per band and origin, and the size range, for the results file."""
    out: dict = {"n": len(images), "bands": {}, "upscaled": sum(i.origin != "original" for i in images),
                 "megapixels_min": min(i.megapixels for i in images), "megapixels_max": max(i.megapixels for i in images),
                 "megapixels_mean": round(sum(i.megapixels for i in images) / len(images), 3)}
    for band in BANDS:
        members = [i for i in images if i.band == band]
        out["bands"][band] = {"n": len(members), "upscaled": sum(i.origin != "original" for i in members)}
    return out


def as_records(images: list[BenchImage]) -> list[dict]:
    return [asdict(i) for i in images]


def variants(paths: list[str], n: int, out_dir: Path, tag: str) -> list[str]:
    """n byte-distinct copies of JPEG files, cycling through paths: the same pixels with a JPEG comment
    naming the copy, so the service's content-addressed reuse (same sha256, same model) cannot answer
    them from an earlier analysis. Written once under out_dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        target = out_dir / f"{tag}-{i:04d}.jpg"
        if not target.exists():
            data = Path(paths[i % len(paths)]).read_bytes()
            comment = f"deepfake-bench {tag} {i}".encode()
            segment = b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment  # COM, right after SOI
            target.write_bytes(data[:2] + segment + data[2:])
        out.append(str(target))
    return out
