"""The one definition of image preprocessing, shared by training, evaluation and the worker.

numpy + Pillow only.  Every image, at training and at inference, is first normalised the way the
training data was: RGB, downscaled (never upscaled) so the short side is at most ``MAX_SIDE``.
Images whose short side is below the model input size are upscaled (bicubic) to it rather than
padded, so the network never sees artificial borders.  The detectors score fixed-size crops at the image's own resolution (where low-level traces
survive) and, for the fine-tuned detector, also one global view: the whole normalised image
downscaled so its short side is the input size, centre-cropped (composition and lighting, which a
224 px crop of a 512 px image cannot see). The global view is a centre square, not a squashed
image, so the aspect ratio (a shortcut this data allows: every AI image is square) is not drawn
into the pixels.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageOps

INPUT_SIZE = 224
MAX_SIDE = 512  # short-side cap applied to the training data; inference applies the same
GRID = 2  # at most GRID x GRID crops per image at inference (measured: see models/README.md)
JPEG_QUALITY = (60, 95)
DOWNSCALE = (0.5, 1.0)
PATCH = 128  # the low-level detector's patch: taken at the image's own resolution
N_PATCHES = 4  # scored per image (the most textured), logits averaged
TRAIN_PATCHES = 4  # per training draw, among the 2 * TRAIN_PATCHES most textured
_FILTERS = (Image.Resampling.BILINEAR, Image.Resampling.BICUBIC, Image.Resampling.LANCZOS)


def load_image(path) -> Image.Image:
    """Open a file as an upright RGB image (EXIF orientation applied)."""
    with Image.open(path) as im:
        im = ImageOps.exif_transpose(im)
        return to_rgb(im)


def to_rgb(img: Image.Image) -> Image.Image:
    """RGB copy of any PIL image; transparency is composited on white."""
    if img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        bg = Image.new("RGB", rgba.size, (255, 255, 255))
        bg.paste(rgba, mask=rgba.getchannel("A"))
        return bg
    return img.convert("RGB")


def _resize(img: Image.Image, scale: float, resample=Image.Resampling.LANCZOS) -> Image.Image:
    w, h = img.size
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return img if size == img.size else img.resize(size, resample)


def normalise(img: Image.Image, size: int = INPUT_SIZE) -> Image.Image:
    """Downscale so the short side is <= MAX_SIDE; upscale tiny images so it is >= size."""
    img = to_rgb(img)
    short = min(img.size)
    if short > MAX_SIDE:
        img = _resize(img, MAX_SIDE / short)
    elif short < size:
        img = _resize(img, size / short, Image.Resampling.BICUBIC)
    if min(img.size) < size:  # rounding
        img = img.resize((max(size, img.width), max(size, img.height)), Image.Resampling.BICUBIC)
    return img


def _offsets(length: int, size: int, n: int) -> list[int]:
    if length <= size * 1.25 or n == 1:
        return [(length - size) // 2]
    k = min(n, 2 + (length > size * 2))
    return sorted({round(i * (length - size) / (k - 1)) for i in range(k)})


def inference_crops(img: Image.Image, size: int = INPUT_SIZE, grid: int = GRID) -> np.ndarray:
    """uint8 (n, size, size, 3) crops the detector scores for one image, averaged by the caller.

    One centre crop when the normalised image is at most 1.25x the input size on both sides,
    otherwise an evenly spaced grid of up to ``grid`` x ``grid`` crops covering the image.
    """
    arr = np.asarray(normalise(img, size))
    crops = [arr[y:y + size, x:x + size] for x, y in crop_boxes(arr.shape[1], arr.shape[0], size, grid)]
    return np.stack(crops).astype(np.uint8)


def crop_boxes(w: int, h: int, size: int = INPUT_SIZE, grid: int = GRID) -> list[tuple[int, int]]:
    """Top-left (x, y) of each inference crop in a normalised image of w x h, row-major."""
    return [(x, y) for y in _offsets(h, size, grid) for x in _offsets(w, size, grid)]


def global_view(img: Image.Image, size: int = INPUT_SIZE) -> np.ndarray:
    """uint8 (size, size, 3): the normalised image downscaled to a short side of ``size``, centre square."""
    base = normalise(img, size)
    base = _resize(base, size / min(base.size))
    return _centre_square(np.asarray(base), size)


def _centre_square(arr: np.ndarray, size: int) -> np.ndarray:
    h, w = arr.shape[:2]
    if min(h, w) < size:  # rounding of the resize
        arr = np.asarray(Image.fromarray(arr).resize((max(size, w), max(size, h)), Image.Resampling.BICUBIC))
        h, w = arr.shape[:2]
    y, x = (h - size) // 2, (w - size) // 2
    return np.ascontiguousarray(arr[y:y + size, x:x + size])


def multiview_crops(img: Image.Image, size: int = INPUT_SIZE, first_only: bool = False) -> np.ndarray:
    """uint8 (1 + n, size, size, 3): the global view first, then the native-resolution grid crops."""
    g = global_view(img, size)[None]
    return g if first_only else np.concatenate([g, inference_crops(img, size)])


def train_global(img: Image.Image, rng: np.random.Generator, size: int = INPUT_SIZE,
                 p_jpeg: float = 0.8) -> np.ndarray:
    """One augmented global view: like ``train_crop`` (downscale, JPEG, flip, for both classes alike),
    then a random square of 70-100 % of the short side resized to ``size`` (a random resized crop)."""
    im = random_downscale(normalise(img, size), rng, size)
    if rng.random() < p_jpeg:
        im = jpeg(im, rng.integers(JPEG_QUALITY[0], JPEG_QUALITY[1] + 1))
    side = max(size, round(min(im.size) * rng.uniform(0.7, 1.0)))
    x = int(rng.integers(0, im.width - side + 1))
    y = int(rng.integers(0, im.height - side + 1))
    im = im.crop((x, y, x + side, y + side)).resize((size, size), _FILTERS[rng.integers(len(_FILTERS))])
    arr = np.asarray(im)
    return np.ascontiguousarray(arr[:, ::-1] if rng.random() < 0.5 else arr)


# One image's logit from its views' logits, for the "multiview" crop kind (the global view first, then
# the native-resolution crops): g = the global view's logit, c = the crops' logits. The fine-tuned
# design is cross-validated under each rule; its sidecar names the one the cross-validation chose.
AGGREGATES = {
    "global": lambda g, c: g,
    "crops": lambda g, c: c.mean(),
    "mean": lambda g, c: np.r_[g, c].mean(),
    "half": lambda g, c: 0.5 * g + 0.5 * c.mean(),
    "max": lambda g, c: max(g, c.max()),
}


def aggregate(kind: str, rule: str, z: np.ndarray) -> float:
    """One image's logit from the logits of the crops ``scored_crops(kind, ...)`` gave: the mean for
    "grid" and "textured"; ``AGGREGATES[rule]`` for "multiview" (its global view alone when only it
    was scored, as in the robustness line)."""
    z = np.asarray(z, dtype=np.float64)
    if kind != "multiview":
        return float(z.mean())
    if len(z) == 1:
        return float(z[0])
    return float(AGGREGATES[rule](z[0], z[1:]))


def centre_crop(img: Image.Image, size: int = INPUT_SIZE) -> np.ndarray:
    """uint8 (size, size, 3) single centre crop of the normalised image."""
    return inference_crops(img, size, grid=1)[0]


def jpeg(img: Image.Image, quality: int) -> Image.Image:
    """Re-encode as JPEG at the given quality (4:2:0, like most cameras and sites)."""
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=int(quality))
    buf.seek(0)
    return Image.open(buf).convert("RGB")


def random_downscale(img: Image.Image, rng: np.random.Generator, size: int = INPUT_SIZE,
                     lo: float = DOWNSCALE[0], hi: float = DOWNSCALE[1]) -> Image.Image:
    """Downscale by a random factor in [lo, hi] (kept >= size on the short side), random filter."""
    lo = max(lo, size / min(img.size))
    if lo >= hi:
        return img
    scale = rng.uniform(lo, hi)
    return _resize(img, scale, _FILTERS[rng.integers(len(_FILTERS))])


def random_crop(img: Image.Image, rng: np.random.Generator, size: int = INPUT_SIZE) -> np.ndarray:
    """uint8 (size, size, 3) crop at a random position."""
    arr = np.asarray(img)
    h, w = arr.shape[:2]
    y = rng.integers(0, h - size + 1)
    x = rng.integers(0, w - size + 1)
    return arr[y:y + size, x:x + size]


def train_crop(img: Image.Image, rng: np.random.Generator, size: int = INPUT_SIZE,
               p_jpeg: float = 0.8) -> np.ndarray:
    """One augmented training crop; identical treatment for both classes.

    normalise -> random 0.5-1x downscale -> random JPEG re-encode (q 60-95) of the whole image
    (so the 8x8 grid lands at any offset in the crop) -> random crop -> random horizontal flip.
    """
    img = random_downscale(normalise(img, size), rng, size)
    if rng.random() < p_jpeg:
        img = jpeg(img, rng.integers(JPEG_QUALITY[0], JPEG_QUALITY[1] + 1))
    crop = random_crop(img, rng, size)
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    return np.ascontiguousarray(crop)


def texture_boxes(arr: np.ndarray, n: int, patch: int = PATCH) -> list[tuple[int, int]]:
    """Top-left (x, y) of the n most textured patch positions (stride patch/2), most textured first."""
    g = arr.astype(np.float32).mean(axis=2)
    # residual energy: |pixel - mean of its 4 neighbours|, summed per patch with an integral image
    r = np.zeros_like(g)
    r[1:-1, 1:-1] = np.abs(4 * g[1:-1, 1:-1] - g[:-2, 1:-1] - g[2:, 1:-1] - g[1:-1, :-2] - g[1:-1, 2:])
    ii = np.pad(r.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    h, w = g.shape
    step = patch // 2
    ys = list(range(0, h - patch + 1, step)) or [0]
    xs = list(range(0, w - patch + 1, step)) or [0]
    cand = [(ii[y + patch, x + patch] - ii[y, x + patch] - ii[y + patch, x] + ii[y, x], x, y) for y in ys for x in xs]
    cand.sort(key=lambda c: -c[0])
    return [(x, y) for _, x, y in cand[:n]]


def textured_patches(img: Image.Image, n: int = N_PATCHES, patch: int = PATCH) -> np.ndarray:
    """uint8 (n, patch, patch, 3): the n most textured patches of the normalised image (repeats if fewer)."""
    arr = np.asarray(normalise(img, patch))
    boxes = texture_boxes(arr, n, patch)
    boxes = (boxes * n)[:n]
    return np.stack([arr[y:y + patch, x:x + patch] for x, y in boxes])


def train_patches(img: Image.Image, rng: np.random.Generator, k: int = TRAIN_PATCHES,
                  patch: int = PATCH) -> np.ndarray:
    """k augmented training patches; the same treatment for both classes (see train_crop)."""
    out = []
    for _ in range(k):
        im = random_downscale(normalise(img, patch), rng, patch)
        if rng.random() < 0.8:
            im = jpeg(im, rng.integers(JPEG_QUALITY[0], JPEG_QUALITY[1] + 1))
        arr = np.asarray(im)
        boxes = texture_boxes(arr, 2 * k, patch)
        x, y = boxes[rng.integers(len(boxes))]
        p = arr[y:y + patch, x:x + patch]
        out.append(p[:, ::-1] if rng.random() < 0.5 else p)
    return np.ascontiguousarray(np.stack(out))


def scored_crops(kind: str, img: Image.Image, size: int, first_only: bool = False) -> np.ndarray:
    """The crops a detector scores, by the crop kind its sidecar names: "grid" (content: evenly
    spaced crops, centre first when only one), "textured" (traces: the most textured patches) or
    "multiview" (the fine-tuned detector: the global view, then the grid crops)."""
    if kind == "grid":
        return inference_crops(img, size, grid=1 if first_only else GRID)
    if kind == "textured":
        return textured_patches(img, 1 if first_only else N_PATCHES, size)
    if kind == "multiview":
        return multiview_crops(img, size, first_only)
    raise ValueError(f"unknown crop kind {kind!r}")
