"""Source families and the source-held-out folds: the one definition cross-validation uses.

Every folder of the training data is a source. Folders that share an origin (one generator
family, one photo collection) form a family and are always held out together, so a fold never
scores a family whose sibling folder it trained on. Each fold holds out whole families of BOTH
classes, so every held-out source is scored against held-out images of the other class.
"""

from __future__ import annotations

import re

# (pattern on the folder name without its class, family); first match wins, else the folder itself.
_FAMILIES = (
    (r"imagen-2022-.*", "imagen-2022"),
    (r"comfyui.*", "comfyui"),
    (r".*-art-display", "art-display"),
    (r"flux1-.*", "flux1"),
    (r".*-creativeai", "creativeai"),
    (r"imagenet-.*", "imagenet"),
    # the people folders of 2026-12-02 come from other repositories than the first ones: a family of their
    # own, held out in another fold, so that no fold trains without any real photos of people
    (r"people-(unsplash-compreface|phone-dslr-human|pose-samples|facedet-press|detector-samples|"
     r"selfies-portraits|humanseg-web|old-photos)", "people-more"),
    (r"(people|faces)-.*", "people-in-the-wild"),
    (r"pro-.*", "pro-photography"),
    (r"nano-banana-pro-.*", "nano-banana-pro"),
    (r"gpt-image-2-.*", "gpt-image-2"),
    (r"seedream-5-pro-.*", "seedream-5-pro"),
)

# Families per fold, balanced by hand so that every fold has real and AI images, and so that
# look-alike content is held out together (DiT draws ImageNet classes: it goes with ImageNet).
# The 2025-26 photoreal generators are spread over the folds, each beside real photos of people or
# professional photography, so each is scored against the genuine photos it is most easily confused with.
FOLDS: tuple[tuple[str, ...], ...] = (
    ("real/imagenet", "real/pro-photography", "fake/imagen-2022", "fake/dit-imagenet", "fake/gpt-image-2"),
    ("real/bsds500", "real/lowlight-hdr-samples", "real/people-more", "real/lowlight-indoor",
     "fake/stylegan-faces", "fake/omnigen-samples", "fake/nano-banana-pro"),
    ("real/people-in-the-wild", "real/afhq-animals", "fake/comfyui", "fake/longcat-image-sample",
     "fake/midjourney-v7-pixmind"),
    ("real/amfd-faces", "real/misc-test-photos", "real/phones-cameras-exiv2-sigal", "fake/sd1-style-tiles",
     "fake/sd2-stability-samples", "fake/seedream-5-pro"),
    ("real/camera-phone-exif", "fake/art-display", "fake/sd15-architecture-finetunes", "fake/ideogram-4-evolinkai",
     "fake/faceswap-inswapper"),
    ("real/photoprism-samples", "fake/flux1", "fake/creativeai", "fake/deepfloyd-if-samples"),
)


def family(source: str) -> str:
    """'fake/imagen-2022-glid3' -> 'fake/imagen-2022'; a folder with no relatives is its own family."""
    cls, _, folder = source.partition("/")
    for pattern, fam in _FAMILIES:
        if re.fullmatch(pattern, folder):
            return f"{cls}/{fam}"
    return source


def fold_of(source: str) -> int:
    """The fold that holds a source out; a family not listed goes to the last fold (and is printed)."""
    fam = family(source)
    for k, fams in enumerate(FOLDS):
        if fam in fams:
            return k
    return len(FOLDS) - 1


def unlisted(sources) -> list[str]:
    """Families the table above does not place (new data): they default to the last fold."""
    return sorted({family(s) for s in sources} - {f for fams in FOLDS for f in fams})
