"""Measure the metadata score on ../shared/samples: camera originals vs edited files vs generator files.

    .venv/bin/python scripts/measure_metadata_scores.py [--files] [--samples PATH]

Reads each file as the worker does (one exiftool process, ``worker.exif.ExifReader``), scores it
with ``worker.signals.metadata.metadata_score`` and prints, per group, the distribution and how
many files fall in each band of ``shared.verdict.DEFAULT_THRESHOLDS`` (docs/evidence.md quotes it).

Groups (chosen by folder and by what the file says, never by its score):
  camera   camera-exif/jpg/{gps,exif-org,hdr,mobile} and camera-exif/heic, with no editor named in
           Software/CreatorTool (the original files of those cameras and phones)
  edited   camera-exif/jpg (top level) and exiftool-fixtures JPEGs whose Software/CreatorTool names
           an editor (``metadata.EDITORS``: GIMP, Photoshop...), i.e. camera files re-saved by an editor
  generator  every file under generator-metadata (AUTOMATIC1111, ComfyUI, Fooocus, InvokeAI, NovelAI)
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from shared.verdict import DEFAULT_THRESHOLDS  # noqa: E402
from worker.exif import ExifReader  # noqa: E402
from worker.signals.metadata import editing_software, metadata_score, thumbnail_size  # noqa: E402

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".heic", ".heif", ".tif", ".tiff", ".webp"}


def _images(folder: Path, recursive: bool = False) -> list[Path]:
    found = folder.rglob("*") if recursive else folder.glob("*")
    return sorted(p for p in found if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def groups(samples: Path, reader: ExifReader) -> dict[str, list[tuple[Path, dict]]]:
    """The three groups of (file, exiftool tags)."""
    cam = samples / "camera-exif"
    originals = [p for sub in ("gps", "exif-org", "hdr", "mobile") for p in _images(cam / "jpg" / sub)]
    originals += _images(cam / "heic", recursive=True)
    resaved = _images(cam / "jpg") + [p for p in _images(samples / "exiftool-fixtures")
                                      if p.suffix.lower() in (".jpg", ".jpeg")]
    out: dict[str, list[tuple[Path, dict]]] = {"camera": [], "edited": [], "generator": []}
    for path in originals:
        tags = reader.read(path)
        out["edited" if editing_software(tags) else "camera"].append((path, tags))
    for path in resaved:
        tags = reader.read(path)
        if editing_software(tags):
            out["edited"].append((path, tags))
    out["generator"] = [(p, reader.read(p)) for p in _images(samples / "generator-metadata", recursive=True)]
    return out


def summary(scores: list[float]) -> dict[str, float | int]:
    """n, min, quartiles, max and the counts in each verdict band."""
    t = DEFAULT_THRESHOLDS
    q = statistics.quantiles(scores, n=4, method="inclusive") if len(scores) > 1 else scores * 3
    return {"n": len(scores), "min": min(scores), "q1": q[0], "median": q[1], "q3": q[2], "max": max(scores),
            "high": sum(s >= t.meta_real for s in scores), "low": sum(s <= t.meta_fake for s in scores)}


def main(argv: list[str] | None = None) -> int:
    """Print the per-group table (and, with --files, every file's score)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=Path, default=ROOT.parent / "shared" / "samples")
    parser.add_argument("--files", action="store_true", help="also list every file with its score")
    args = parser.parse_args(argv)
    if not args.samples.is_dir():
        print(f"no samples at {args.samples} (the ../shared reference data)", file=sys.stderr)
        return 2
    reader = ExifReader(timeout=30)
    try:
        found = groups(args.samples, reader)
    finally:
        reader.close()
    t = DEFAULT_THRESHOLDS
    print(f"| group | n | min | q1 | median | q3 | max | >= {t.meta_real} (high) | <= {t.meta_fake} (low) |")
    print("|---|--:|--:|--:|--:|--:|--:|--:|--:|")
    for name, files in found.items():
        scores = [metadata_score(tags, thumbnail_size(str(p)))[0] for p, tags in files]
        s = summary(scores)
        print(f"| {name} | {s['n']} | {s['min']:.2f} | {s['q1']:.2f} | {s['median']:.2f} | {s['q3']:.2f} | "
              f"{s['max']:.2f} | {s['high']} | {s['low']} |")
    if args.files:
        for name, files in found.items():
            for path, tags in files:
                print(f"{name}\t{metadata_score(tags, thumbnail_size(str(path)))[0]:.3f}\t"
                      f"{path.relative_to(args.samples)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
