"""AI generators' own product strings, and the device strings (build fingerprints, firmware) they must not match.

``PRODUCTS`` is the one list of generator names: each entry is the name shown to people and the pattern of
the product's own string as its software writes it (``Adobe Firefly``, ``Imagen on Vertex AI``), never a bare
word that is also a phone's codename or an ordinary noun (``firefly``, ``gemini``, ``imagen``, ``runway``,
``grok``, ``kling``). Xiaomi's Mi 5 is codenamed ``gemini`` and writes ``gemini-user 7.0 NRD90M ...
release-keys`` into ``XMP-exif:Software``; ``device_string`` recognises that and other device strings so that
a name inside them is never read as the software that made the image.
"""
from __future__ import annotations

import re
from typing import NamedTuple


class Product(NamedTuple):
    """One generator: its display name, its own product string(s), and whether a match may decide."""

    name: str
    pattern: str
    decisive: bool = True


PRODUCTS = (
    Product("Midjourney", r"midjourney"),
    Product("DALL·E", r"dall[\s\-·•.]?e"),
    Product("OpenAI", r"openai"),
    Product("ChatGPT", r"chatgpt"),
    Product("GPT Image", r"gpt[\s\-]image"),
    Product("Stable Diffusion", r"stable[\s\-_]?diffusion"),
    Product("Stability AI", r"stability[\s\-]?ai"),
    Product("SDXL", r"sdxl"),
    Product("NovelAI", r"novel[\s\-]?ai"),
    Product("Adobe Firefly", r"adobe[\s_\-]?firefly"),
    Product("Imagen on Vertex AI", r"imagen\s+on\s+vertex\s+ai|google[\s\-]imagen"),
    Product("Google Gemini", r"google[\s\-]gemini|gemini[\s\-](?:\d(?:\.\d)?[\s\-])?(?:flash[\s\-]|pro[\s\-])?image"),
    Product("Nano Banana", r"nano[\s\-]?banana"),
    Product("Google AI", r"google[\s\-]?ai"),
    Product("Bing Image Creator", r"bing\s?image\s?creator"),
    Product("Microsoft Designer", r"microsoft\s?designer"),
    Product("Leonardo.Ai", r"leonardo\.?ai"),
    Product("Ideogram", r"ideogram"),
    Product("FLUX.1", r"flux\.1|flux[\s\-]kontext"),
    Product("Black Forest Labs", r"black\s?forest\s?labs"),
    Product("RunwayML", r"runway[\s\-]?ml|runway[\s\-]gen[\s\-]?\d"),
    Product("Craiyon", r"craiyon"),
    Product("DreamStudio", r"dreamstudio"),
    Product("NightCafe", r"nightcafe"),
    Product("Artbreeder", r"artbreeder"),
    Product("ComfyUI", r"comfyui"),
    Product("AUTOMATIC1111", r"automatic1111"),
    Product("InvokeAI", r"invokeai"),
    Product("Fooocus", r"fooocus"),
    Product("Playground AI", r"playground[\s\-]?ai"),
    Product("Krea AI", r"krea[\s.]?ai"),
    Product("Recraft", r"recraft"),
    Product("Seedream", r"seedream"),
    Product("Qwen-Image", r"qwen[\s\-]?image"),
    Product("Grok Imagine", r"grok[\s\-](?:imagine|aurora)|aurora[\s\-]ai"),
    Product("Dreamina", r"dreamina"),
    Product("Kling AI", r"kling[\s\-]?ai"),
    Product("Hailuo AI", r"hailuo[\s\-]?ai"),
    Product("AI-generated", r"ai[\s\-]generated"),
    # Also the name of the camera app of Ray-Ban Meta glasses: a match points to AI, never decides.
    Product("Meta AI", r"meta[\s\-]?ai", decisive=False),
)
_MATCH = re.compile("|".join(rf"(?P<p{i}>\b(?:{p.pattern})\b)" for i, p in enumerate(PRODUCTS)), re.I)
_SCAN_CHARS = 2000  # product strings sit at the start of a field; a long value is cut, not scanned whole

# Android's ro.build.fingerprint (brand/product/device:version/id/incremental:type/tags) and
# ro.build.description (product-type version id incremental tags), as phones write them into Software.
_ANDROID = re.compile(
    r"^[\w.\-]{1,64}/[\w.\-]{1,64}/[\w.\-]{1,64}:[\w.\-]{1,32}/[\w.\-]{1,64}/[\w.\-]{1,64}:(?:user|userdebug|eng)/"
    r"|^[\w.\-]{1,64}-(?:user|userdebug|eng) [\w.\-]{1,32} [\w.\-]{1,64} [^\s]{1,64}(?: [^\s]{1,64}){0,3}"
    r" (?:release|dev|test)-keys$", re.I)
# Firmware: "Ver.1.00", "V06P-74", "Version 1.3", "FW 2.1", "K10D Ver 1.30", "... Firmware 1.2".
_FIRMWARE = re.compile(r"^(?:ver(?:sion)?\.?\s?|v)\d|\bfirmware\b|\bfw[\s\-]?\d|\bver(?:sion)?\.?\s?\d", re.I)


class Match(NamedTuple):
    """A generator product found in a value: the product and the text that matched."""

    product: Product
    text: str


def find_product(value) -> Match | None:
    """The first generator product string in a value, or None."""
    m = _MATCH.search(str(value)[:_SCAN_CHARS])
    if not m:
        return None
    return Match(PRODUCTS[int(m.lastgroup[1:])], m.group(0))


def device_string(value, meta: dict | None = None) -> str | None:
    """What kind of device string a value is (an Android build, firmware, the camera's own model), or None."""
    text = str(value).strip()[:_SCAN_CHARS]
    if _ANDROID.search(text):
        return "an Android build fingerprint"
    model = str(_first(meta or {}, "Model") or "").strip()
    if len(model) >= 3 and model.lower() in text.lower():
        return f"the camera model's own name ({model})"
    if _FIRMWARE.search(text):
        return "a firmware version string"
    return None


def _first(meta: dict, tag: str):
    return next((v for k, v in meta.items() if k.rpartition(":")[2] == tag and isinstance(v, str) and v.strip()),
                None)
