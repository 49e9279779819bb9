"""A 64-bit difference hash, for finding earlier analyses of the same or a near-identical image.

Ten lines of Pillow instead of a dependency: the dHash of Krawetz ("Kind of Like That", 2013) survives
re-compression and resizing, and near-identical images differ in a few of its 64 bits.
"""
from __future__ import annotations

from PIL import Image


def dhash(img: Image.Image) -> str:
    """16 hex digits: for each of 8 rows, whether each of 8 pixels is brighter than its right neighbour."""
    small = img.convert("L").resize((9, 8), Image.Resampling.LANCZOS)
    px = list(small.getdata())
    bits = 0
    for row in range(8):
        for col in range(8):
            bits = (bits << 1) | (px[row * 9 + col] > px[row * 9 + col + 1])
    return f"{bits:016x}"
