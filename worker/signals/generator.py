"""Generator text chunks: the parameters AI image tools write into their files.

Recognised: AUTOMATIC1111 / Forge ``parameters`` (PNG text, JPEG/WebP EXIF UserComment, and
the "stealth" copy hidden in the alpha-channel LSBs), ComfyUI ``prompt``/``workflow``,
InvokeAI (``invokeai_metadata``, ``sd-metadata``, ``Dream``), NovelAI (``Software`` +
``Comment``), Fooocus (``fooocus_scheme`` / JSON ``parameters``) and Midjourney prompts
(``Job ID`` + ``--`` flags). Each match is a strong ``generator_metadata`` item naming the
exact field, the generator, and where present the model, seed and prompt. Chunks are
trivially stripped, so their absence says nothing.
"""
from __future__ import annotations

import json
import re
import zlib

import numpy as np
from PIL import Image

from shared.evidence import Evidence, item
from shared.limits import GZIP, TEXT_MAX_BYTES, TooLarge, inflate
from worker.errors import AnalysisError
from worker.signals.pngtext import png_texts

STEALTH_SIGNATURES = {b"stealth_pnginfo": False, b"stealth_pngcomp": True}
_STEALTH_HEAD = 19  # signature (15 bytes) and the payload's length in bits (4)
# A1111 settings: 'Key: value, Key: "quoted, value", ...'. Each pattern has one way to read a character,
# and parse_settings never rescans, so parsing is linear (A1111's own regex, and ours before, backtracked).
_KEY = re.compile(r"\s*(\w[\w \-/]*):\s*")
_QUOTED = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_PROMPT_MAX = 2000


def texts_from_meta(meta: dict) -> dict[str, str]:
    """Every string tag of the exiftool dict that could hold generator text, keyed by its exact field."""
    groups = ("PNG", "EXIF", "XMP", "IPTC", "RIFF", "File")
    return {k: v[:TEXT_MAX_BYTES] for k, v in (meta or {}).items() if isinstance(v, str) and k.split(":")[0] in groups}


def texts_from_file(path: str) -> dict[str, str]:
    """PNG text chunks, or the EXIF UserComment of other formats, read here (fallback when exiftool missed
    them); each cut at TEXT_MAX_BYTES. PNG EXIF is left to exiftool: Pillow decodes every pixel to find it."""
    try:
        texts = png_texts(path)
        if texts:
            return {f"PNG:{key.capitalize()}": value for key, value in texts.items()}
        with Image.open(path) as im:
            if im.format == "PNG":
                return {}
            raw = im.getexif().get_ifd(0x8769).get(0x9286)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return {}
    if isinstance(raw, bytes) and len(raw) > 8:
        body = raw[8:TEXT_MAX_BYTES]
        text = body.decode("utf-16-be", "ignore") if raw[:8].startswith(b"UNICODE") else body.decode("utf-8", "ignore")
        return {"EXIF:UserComment": text.strip("\x00")}
    return {}


def stealth_text(img: Image.Image) -> str | None:
    """Text hidden by the A1111 stealth-pnginfo extension in the alpha-channel LSBs, if any.

    Only the bits the header announces are gathered, at most TEXT_MAX_BYTES of them; a gzip payload
    that inflates beyond that is a decompression bomb and fails the analysis (AnalysisError).
    """
    if img.mode != "RGBA":
        return None
    alpha = np.asarray(img.getchannel("A"))
    if alpha.size < _STEALTH_HEAD * 8:
        return None
    head = _alpha_bits(alpha, _STEALTH_HEAD * 8)  # signature + length first: a plain RGBA image costs nothing
    compressed = STEALTH_SIGNATURES.get(head[:15])
    if compressed is None:
        return None
    length = min(int.from_bytes(head[15:19], "big") // 8, TEXT_MAX_BYTES, alpha.size // 8 - _STEALTH_HEAD)
    payload = _alpha_bits(alpha, (_STEALTH_HEAD + length) * 8)[_STEALTH_HEAD:]
    try:
        return (inflate(payload, GZIP) if compressed else payload).decode("utf-8", "replace")
    except TooLarge as exc:
        raise AnalysisError(f"the text hidden in the alpha channel (stealth_pngcomp) {exc}: "
                            "a decompression bomb, not generator metadata") from None
    except zlib.error:  # not a stealth text after all
        return None


def _alpha_bits(alpha: np.ndarray, bits: int) -> bytes:
    """The first ``bits`` alpha LSBs in column-major order (as the extension writes them), packed."""
    cols = -(-bits // alpha.shape[0])
    return np.packbits(alpha[:, :cols].T.ravel()[:bits] & 1).tobytes()


def _clip(prompt) -> str | None:
    return str(prompt)[:_PROMPT_MAX] if prompt else None


def parse_a1111(text: str) -> dict | None:
    """AUTOMATIC1111/Forge 'parameters' text to generator, model, seed and prompt."""
    lines = text[:TEXT_MAX_BYTES].split("\n")
    at = next((i for i in range(len(lines) - 1, -1, -1) if _is_settings(lines[i])), None)
    if at is None:
        return None
    fields = parse_settings((lines[at].splitlines() or [""])[0])
    prompt = "\n".join(lines[:at]).split("\nNegative prompt:")[0].strip()
    version = fields.get("Version", "")
    generator = "Forge" if version.startswith("f") else "AUTOMATIC1111"
    return {"generator": generator, "model": fields.get("Model") or fields.get("Model hash"),
            "seed": fields.get("Seed"), "prompt": _clip(prompt), "version": version or None}


def _is_settings(line: str) -> bool:
    """The A1111 settings line: 'Steps: <digits>...Sampler: ...' (the last such line is the one)."""
    return line.startswith("Steps: ") and line[7:8].isdigit() and line.find("Sampler: ", 8) >= 0


def parse_settings(line: str) -> dict[str, str]:
    """'Key: value, Key: "quoted, value", ...' to a dict, in time linear in the line.

    A quoted value that is not followed by a comma is read up to the next comma instead, as A1111 does.
    Quoted scans never overlap: a quote inside the previous scan was an escaped one there, so its scan
    would end where that one did (or find no closing quote, as that one did) and is not repeated.
    """
    fields: dict[str, str] = {}
    pos, end, close = 0, len(line), -1  # close: just past the last scan's closing quote (end + 1: none)
    while pos < end:
        key = _KEY.match(line, pos)
        if key is None:
            comma = line.find(",", pos)
            pos = end if comma < 0 else comma + 1
            continue
        start = stop = key.end()
        if line.startswith('"', start):
            if start >= close - 1:
                quoted = _QUOTED.match(line, start)
                close = quoted.end() if quoted else end + 1
            if close == end or close < end and line[close] == ",":
                stop = close
        if stop == start:
            comma = line.find(",", start)
            stop = end if comma < 0 else comma
        fields[key.group(1).strip()] = line[start:stop].strip().strip('"')
        pos = stop + 1
    return fields


def parse_comfyui(prompt_json: str | None, workflow_json: str | None) -> dict | None:
    """ComfyUI API prompt graph (or UI workflow) to model, seed and first text prompt."""
    graph = _json(prompt_json)
    nodes = list(graph.values()) if isinstance(graph, dict) else []
    if not nodes:
        wf = _json(workflow_json)
        nodes = [{"class_type": n.get("type"), "inputs": {"widgets": n.get("widgets_values")}}
                 for n in (wf.get("nodes", []) if isinstance(wf, dict) else []) if isinstance(n, dict)]
        if not nodes:
            return None
    model = seed = text = None
    for node in nodes:  # the sampler's positive input is the prompt; fall back to the first text encoder
        inputs = node.get("inputs", {}) if isinstance(node, dict) else {}
        ref = inputs.get("positive") if isinstance(inputs, dict) else None
        if isinstance(ref, list) and ref and isinstance(graph, dict):
            target = graph.get(str(ref[0]), {}).get("inputs", {})
            if isinstance(target.get("text"), str):
                text = target["text"]
                break
    for node in nodes:
        inputs = node.get("inputs", {}) if isinstance(node, dict) else {}
        if not isinstance(inputs, dict):
            continue
        model = model or next((inputs[k] for k in ("ckpt_name", "unet_name", "model_name") if isinstance(inputs.get(k), str)), None)
        seed = seed if seed is not None else next((inputs[k] for k in ("seed", "noise_seed") if isinstance(inputs.get(k), int)), None)
        if text is None and "TextEncode" in str(node.get("class_type")) and isinstance(inputs.get("text"), str):
            text = inputs["text"]
    return {"generator": "ComfyUI", "model": model, "seed": seed, "prompt": _clip(text)}


def _json(text):
    try:
        return json.loads(text) if text else None
    except (TypeError, ValueError):
        return None


def _field(texts: dict[str, str], *names: str) -> tuple[str, str] | tuple[None, None]:
    wanted = {n.lower() for n in names}
    for key, value in texts.items():
        if key.rpartition(":")[2].lower() in wanted and value.strip():
            return key, value
    return None, None


def parse_texts(texts: dict[str, str]) -> list[tuple[str, dict]]:
    """All generator records found in the text fields, as (exact field, record)."""
    found: list[tuple[str, dict]] = []
    key, value = _field(texts, "fooocus_scheme")
    pkey, params = _field(texts, "parameters")
    pdict = _json(params) if params and params.lstrip().startswith("{") else None
    if key or (isinstance(pdict, dict) and "base_model" in pdict):
        p = pdict if isinstance(pdict, dict) else {}
        found.append((pkey or key, {"generator": "Fooocus", "model": p.get("base_model"), "seed": p.get("seed"),
                                    "prompt": _clip(p.get("prompt") or p.get("full_prompt"))}))
    for field in ("parameters", "usercomment", "comment", "description"):
        k, v = _field(texts, field)
        record = parse_a1111(v) if v else None
        if record:
            found.append((k, record))
            break
    k, v = _field(texts, "prompt")
    wk, wv = _field(texts, "workflow")
    if (v and v.lstrip().startswith("{")) or (wv and wv.lstrip().startswith("{")):
        record = parse_comfyui(v, wv)
        if record:
            found.append((k or wk, record))
    k, v = _field(texts, "invokeai_metadata")
    if v and isinstance(meta := _json(v), dict):
        model = meta.get("model")
        found.append((k, {"generator": "InvokeAI", "seed": meta.get("seed"), "prompt": _clip(meta.get("positive_prompt")),
                          "model": model.get("name") or model.get("model_name") if isinstance(model, dict) else model}))
    else:
        k, v = _field(texts, "sd-metadata")
        meta = _json(v)
        if isinstance(meta, dict):
            image = meta.get("image") or {}
            prompt = image.get("prompt")
            prompt = prompt[0].get("prompt") if isinstance(prompt, list) and prompt and isinstance(prompt[0], dict) else prompt
            found.append((k, {"generator": "InvokeAI", "model": meta.get("model_weights"), "seed": image.get("seed"),
                              "prompt": _clip(prompt)}))
        else:
            k, v = _field(texts, "dream")
            if v:
                seed = re.search(r"\s-S\s*(\d+)", v)
                found.append((k, {"generator": "InvokeAI", "model": None, "seed": seed and seed.group(1),
                                  "prompt": _clip(v.split('" ')[0].strip('"'))}))
    k, v = _field(texts, "software")
    if v and v.strip().lower() == "novelai":
        ck, comment = _field(texts, "comment")
        c = _json(comment) or {}
        _, source = _field(texts, "source")
        _, desc = _field(texts, "description")
        found.append((ck or k, {"generator": "NovelAI", "model": source, "seed": c.get("seed"),
                                "prompt": _clip(c.get("prompt") or desc)}))
    for key, value in texts.items():
        if re.search(r"Job ID:\s*[0-9a-f-]{36}", value) and re.search(r"--(v|ar|s|style|niji)\b", value):
            found.append((key, {"generator": "Midjourney", "model": None, "seed": None,
                                "prompt": _clip(value.split("Job ID:")[0].strip())}))
            break
    return found


def generator_evidence(path: str, meta: dict, img: Image.Image | None = None) -> list[Evidence]:
    """Strong generator_metadata items for every generator record in the file's text chunks or stealth alpha."""
    texts = {**texts_from_file(path), **texts_from_meta(meta)}
    records = parse_texts(texts)
    try:
        if img is None or img.mode != "RGBA":  # the worker passes its decoded RGB image: alpha is gone
            with Image.open(path) as im:
                hidden = stealth_text(im) if im.format == "PNG" and im.mode == "RGBA" else None
        else:
            hidden = stealth_text(img)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        hidden = None
    if hidden and (record := parse_a1111(hidden)):
        records.append(("PNG:alpha-LSB stealth_pnginfo", record))
    out = []
    for source, rec in records:
        rec = {k: v for k, v in rec.items() if v not in (None, "")}
        detail = ", ".join(f"{k} {rec[k]}" for k in ("model", "seed") if k in rec)
        out.append(item("generator_metadata", source, rec, "fake",
                        f"{rec['generator']} generation parameters in {source}" + (f" ({detail})" if detail else ""),
                        strong=True))
    return out
