"""A 64-bit difference hash, for finding earlier analyses of the same or a near-identical image.

Ten lines of Pillow instead of a dependency: the dHash of Krawetz ("Kind of Like That", 2013) survives
re-compression and resizing, and near-identical images differ in a few of its 64 bits.
"""
from __future__ import annotations

import numpy as np
from PIL import Image


def dhash(img: Image.Image) -> str:
    """16 hex digits: for each of 8 rows, whether each of 8 pixels is brighter than its right neighbour."""
    px = np.asarray(img.convert("L").resize((9, 8), Image.Resampling.LANCZOS), dtype=np.int16)
    bits = 0
    for brighter in (px[:, :-1] > px[:, 1:]).flatten():
        bits = (bits << 1) | int(brighter)
    return f"{bits:016x}"
