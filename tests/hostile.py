"""Hostile files made here, small on disk and expensive to a naive parser (issue 11).

``python -m tests.hostile [NAME ...]`` runs each through the decoder, the detector's normalisation and the
generator text and stealth readers in a fresh subprocess, and prints its wall time and peak memory
(VmHWM), so that a change can be measured before and after.
"""
from __future__ import annotations

import gzip
import io
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
from PIL import Image
from PIL.PngImagePlugin import PngInfo


def png_with_text(key: str, value: str, size=(64, 64)) -> bytes:
    """A small RGB PNG carrying one uncompressed tEXt chunk."""
    info = PngInfo()
    info.add_text(key, value)
    buf = io.BytesIO()
    Image.new("RGB", size, (90, 120, 150)).save(buf, "PNG", pnginfo=info)
    return buf.getvalue()


def a1111_quadratic(n: int = 200_000) -> bytes:
    """A1111 'parameters' (upper case keyword, which exiftool and Pillow name differently) whose
    settings line is digits then 'S's and never 'Sampler: ': the old settings regex tried every split
    of the two, about (n/2) squared steps."""
    return png_with_text("PARAMETERS", "a cat\nSteps: " + "1" * (n // 2) + "S" * (n // 2) + "\n")


def a1111_exponential(n: int = 34) -> bytes:
    """A settings line whose quoted value is a run of backslashes with no closing quote: the old
    key/value regex had two ways to read each backslash, so it tried about 1.6**n of them."""
    return png_with_text("parameters", 'a cat\nSteps: 20, Sampler: Euler, Lora: "' + "\\" * n + "x")


def stealth_png(payload: bytes, compressed: bool = True, side: int = 4096) -> bytes:
    """An RGBA PNG hiding ``payload`` in its alpha LSBs the way the A1111 stealth-pnginfo extension
    writes it (signature, 32-bit bit length, data; column-major)."""
    signature = b"stealth_pngcomp" if compressed else b"stealth_pnginfo"
    data = signature + struct.pack(">I", len(payload) * 8) + payload
    bits = np.unpackbits(np.frombuffer(data, np.uint8))
    if bits.size > side * side:
        raise ValueError("payload does not fit")
    alpha = np.full(side * side, 254, np.uint8)
    alpha[: bits.size] |= bits
    rgba = np.zeros((side, side, 4), np.uint8)
    rgba[..., 3] = alpha.reshape(side, side).T  # column-major
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, "PNG", compress_level=9)
    return buf.getvalue()


def stealth_bomb(decompressed_mb: int = 1024, side: int = 4096) -> bytes:
    """A stealth PNG whose gzip payload inflates to ``decompressed_mb`` MiB of text."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = b"A" * (1 << 20)
    payload = b"".join(comp.compress(chunk) for _ in range(decompressed_mb)) + comp.flush()
    return stealth_png(payload, side=side)


def stealth_a1111(text: str, side: int = 256) -> bytes:
    """A genuine-looking stealth PNG with gzip'd A1111 parameters."""
    return stealth_png(gzip.compress(text.encode()), side=side)


def tiff(mode: str, size=(320, 240)) -> bytes:
    """A TIFF (or, for modes TIFF cannot hold, a PNG) in a given Pillow mode with a gradient."""
    ramp = np.linspace(0, 1, size[0] * size[1]).reshape(size[1], size[0])
    if mode in ("I;16", "I;16B", "I;16L"):
        dtype = ">u2" if mode == "I;16B" else "<u2"
        img = Image.frombytes(mode, size, (ramp * 65535).astype(dtype).tobytes())
    elif mode == "I":
        img = Image.fromarray((ramp * 2_000_000).astype(np.int32), "I")
    elif mode == "F":
        img = Image.fromarray((ramp * 1000).astype(np.float32), "F")
    else:
        img = Image.fromarray((ramp * 255).astype(np.uint8), "L").convert(mode)
    buf = io.BytesIO()
    img.save(buf, "TIFF")
    return buf.getvalue()


def sliver(width: int = 20_000) -> bytes:
    """A width x 1 PNG of about 100 bytes, which the detector's normalisation would make 224 px high."""
    buf = io.BytesIO()
    Image.new("RGB", (width, 1), (9, 9, 9)).save(buf, "PNG")
    return buf.getvalue()


FILES = {
    "a1111-quadratic-20k.png": lambda: a1111_quadratic(20_000),
    "a1111-quadratic-200k.png": a1111_quadratic,
    "a1111-exponential.png": a1111_exponential,
    "stealth-bomb-1g.png": stealth_bomb,
    "tiff-I16B.tif": lambda: tiff("I;16B"),
    "sliver-20000x1.png": sliver,
}

_PROBE = """
import sys, time
def peak_mib():  # this process's own high-water mark (ru_maxrss would include the parent's, kept over exec)
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM")) / 1024
t = time.perf_counter()
from models import preprocess
from worker import decode
from worker.errors import AnalysisError
from worker.signals.generator import generator_evidence
try:
    img = decode.load_image(sys.argv[1], 100_000_000)
    if hasattr(decode, "check_upscale"):
        decode.check_upscale(img, preprocess.INPUT_SIZE)
    normalised = preprocess.normalise(img, preprocess.INPUT_SIZE)  # the detector's first step
    items = generator_evidence(sys.argv[1], {}, img)
    outcome = f"ok, {len(items)} generator items"
except AnalysisError as exc:
    outcome = f"failed: {exc}"
except Exception as exc:
    outcome = f"crashed: {exc.__class__.__name__}: {exc}"
print(f"{time.perf_counter() - t:7.2f} s {peak_mib():8.0f} MiB  "
      f"{outcome[:110]}")
"""


def measure(names: list[str], folder: Path, timeout: float = 300) -> None:
    """Print time and peak memory of decode, the detector's normalisation and generator_evidence per file."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names or list(FILES):
        path = folder / name
        path.write_bytes(FILES[name]())
        try:
            out = subprocess.run([sys.executable, "-c", _PROBE, str(path)], capture_output=True, text=True,
                                 timeout=timeout).stdout.strip()
        except subprocess.TimeoutExpired:
            out = f">{timeout:.0f} s (killed)"
        print(f"{name:28s} {path.stat().st_size / 1024:8.0f} KiB  {out}", flush=True)


if __name__ == "__main__":
    measure(sys.argv[1:], Path("/tmp/hostile-files"))
