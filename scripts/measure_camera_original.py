"""Measure the camera-original signal on ../shared: how often each folder reaches each result, and EXIF transplants.

    .venv/bin/python scripts/measure_camera_original.py [--shared PATH] [--per-folder N] [--files]

Reads each file as the worker does (one exiftool process, ``worker.exif.ExifReader``) and runs
``worker.signals.camera_original.camera_original_evidence`` on it. Rows are folders, chosen by where a file
comes from, never by its result. The transplant rows take every sample that reaches "camera original" and give
its EXIF to AI images (the first file of each folder under datasets/train/fake) three ways: ``exiftool
-tagsFromFile``, a Pillow re-save carrying the raw EXIF block, and a Pillow re-save carrying the EXIF block and
the camera's own quantisation tables. docs/evidence.md quotes the table.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from worker.exif import ExifReader  # noqa: E402
from worker.signals.content_credentials import c2pa_evidence  # noqa: E402
from worker.signals.jpeg_headers import MATCH_MIN  # noqa: E402
from worker.signals.camera_original import RESULTS, camera_original_evidence  # noqa: E402

SUFFIXES = {".jpg", ".jpeg", ".png", ".heic", ".heif", ".tif", ".tiff", ".webp"}
SAMPLE_FOLDERS = ("camera-exif/jpg/exif-org", "camera-exif/jpg/gps", "camera-exif/jpg/hdr", "camera-exif/jpg/mobile",
                  "camera-exif/jpg/tests", "camera-exif/jpg/orientation", "camera-exif/jpg/xmp",
                  "camera-exif/jpg/invalid", "camera-exif/heic", "camera-exif/tiff", "exiftool-fixtures", "c2pa",
                  "generator-metadata")


def files(folder: Path, recursive: bool = True, limit: int = 0) -> list[Path]:
    """The image files of a folder, sorted (at most ``limit`` when it is set)."""
    found = sorted(p for p in (folder.rglob("*") if recursive else folder.glob("*"))
                   if p.is_file() and p.suffix.lower() in SUFFIXES)
    return found[:limit] if limit else found


def result(path: Path, reader: ExifReader, c2pa: bool = False) -> tuple[str, float, float | None]:
    """The camera-original result, score and thumbnail correlation of one file, as the worker computes them (with
    c2pa: given the file's C2PA items, as the worker gives its provenance; the training copies carry none)."""
    try:
        tags = reader.read(path)
    except Exception:  # noqa: BLE001 - the worker fails such a file; here it is measured with no tags
        tags = {}
    items = camera_original_evidence(str(path), tags, c2pa_evidence(str(path)) if c2pa else [])
    sim = next((e["value"] for e in items if e["source"] == "EXIF:ThumbnailImage" and e["value"] is not None), None)
    return items[0]["value"]["result"], items[0]["value"]["score"], sim


def transplants(originals: list[Path], ai_images: list[Path], out: Path) -> list[tuple[str, Path]]:
    """Each AI image given each original's EXIF: by exiftool, by Pillow, and by Pillow with the camera's tables."""
    made = []
    for i, photo in enumerate(originals):
        with Image.open(photo) as p:
            exif, tables = p.info.get("exif"), [list(t) for t in (p.quantization or {}).values()]
        for j, ai in enumerate(ai_images):
            base = out / f"{i}-{j}"
            with Image.open(ai) as im:
                rgb = im.convert("RGB")
            rgb.save(f"{base}-src.jpg", quality=90)
            shutil.copy(f"{base}-src.jpg", f"{base}-exiftool.jpg")
            subprocess.run(["exiftool", "-q", "-q", "-overwrite_original", "-tagsFromFile", str(photo),
                            f"{base}-exiftool.jpg"], check=False)
            made.append(("exiftool -tagsFromFile", Path(f"{base}-exiftool.jpg")))
            if exif:
                rgb.save(f"{base}-pillow.jpg", exif=exif, quality=95)
                rgb.save(f"{base}-tables.jpg", exif=exif, qtables=tables)
                made += [("Pillow re-save with the EXIF", Path(f"{base}-pillow.jpg")),
                         ("Pillow with the EXIF and the camera's tables", Path(f"{base}-tables.jpg"))]
    return made


def row(name: str, found: list[str]) -> str:
    counts, n = Counter(found), len(found)
    cells = [f"{counts[r]} ({counts[r] / n:.0%})" if n else "0" for r in RESULTS]
    return f"| {name} | {n} | " + " | ".join(cells) + " |"


def correlations(label: str, sims: list, names: list[str]) -> str:
    """One line on the spread of thumbnail correlations (None: no thumbnail), naming the sample files below."""
    found = sorted((s, n) for s, n in zip(sims, names) if s is not None)
    if not found:
        return f"thumbnail correlation, {label}: none with a thumbnail"
    low = [f"{n} {s:.2f}" for s, n in found if s < MATCH_MIN]
    line = (f"thumbnail correlation, {label} with a thumbnail: n {len(found)}, min {found[0][0]:.2f}, "
            f"5th percentile {found[len(found) // 20][0]:.3f}, 95th percentile {found[len(found) * 19 // 20][0]:.3f}, "
            f"max {found[-1][0]:.2f}; {len(found) - len(low)} at or above {MATCH_MIN}")
    return line + (f"; below: {', '.join(low)}" if label == "sample files" else "")


def main(argv: list[str] | None = None) -> int:
    """Print the table (and, with --files, every file's result)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--per-folder", type=int, default=0, help="at most this many files per training folder")
    parser.add_argument("--files", action="store_true", help="also list every file with its result")
    args = parser.parse_args(argv)
    samples, train = args.shared / "samples", args.shared / "datasets" / "train"
    if not samples.is_dir():
        print(f"no samples at {samples} (the ../shared reference data)", file=sys.stderr)
        return 2
    groups = {"samples/camera-exif/jpg (top level)": files(samples / "camera-exif/jpg", recursive=False)}
    groups |= {f"samples/{f}": files(samples / f) for f in SAMPLE_FOLDERS}
    for label in ("real", "fake"):
        subs = sorted(d for d in (train / label).iterdir() if d.is_dir()) if (train / label).is_dir() else []
        groups[f"datasets/train/{label} ({len(subs)} folders)"] = [p for d in subs for p in files(d, True,
                                                                                                   args.per_folder)]
    reader = ExifReader(timeout=30)
    try:
        measured = {name: [(p, *result(p, reader, name.startswith("samples/"))) for p in paths]
                    for name, paths in groups.items()}
        originals = [p for name, rows in measured.items() if name.startswith("samples/")
                     for p, r, _, _ in rows if r == "camera_original" and p.suffix.lower() in (".jpg", ".jpeg")]
        fakes = [files(d, limit=1)[0] for d in sorted((train / "fake").iterdir()) if files(d, limit=1)] \
            if (train / "fake").is_dir() else []
        with tempfile.TemporaryDirectory() as tmp:
            made = transplants(originals, fakes[:8], Path(tmp))
            for how in dict.fromkeys(h for h, _ in made):
                measured[f"transplant: {how} ({len(originals)} originals x {min(8, len(fakes))} AI images)"] = \
                    [(p, *result(p, reader)) for h, p in made if h == how]
    finally:
        reader.close()
    print("| files | n | " + " | ".join(RESULTS.values()) + " |")
    print("|---|--:|" + "--:|" * len(RESULTS))
    for name, rows in measured.items():
        print(row(name, [r for _, r, _, _ in rows]))
    print()
    for label, pick in (("sample files", "samples/"), ("transplants", "transplant:")):
        print(correlations(label, [sim for n, rows in measured.items() if n.startswith(pick) for *_, sim in rows],
                           [p.name for n, rows in measured.items() if n.startswith(pick) for p, *_ in rows]))
    if args.files:
        for name, rows in measured.items():
            for path, r, s, sim in rows:
                print(f"{r}\t{s:.2f}\t{sim}\t{path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
