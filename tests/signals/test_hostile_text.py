"""Hostile generator text (issue 11): every regex linear, every text and decompression bounded.

The expensive cases run in a subprocess with a time limit, so that a regression fails in seconds (and
its memory is measured) instead of holding the test run for minutes.
"""
from __future__ import annotations

import gzip
import io
import subprocess
import sys
import time
import zlib

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from shared.limits import GZIP, TEXT_MAX_BYTES, TooLarge, inflate
from tests.hostile import a1111_exponential, a1111_quadratic, png_with_text, stealth_a1111, stealth_bomb
from tests.live import ROOT
from worker.errors import AnalysisError
from worker.signals.generator import generator_evidence, parse_a1111, parse_settings, texts_from_file
from worker.signals.pngtext import png_texts

_PROBE = """
import sys, time
def peak_mib():  # this process's own high-water mark (ru_maxrss would include the parent's, kept over exec)
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM")) / 1024
from worker.errors import AnalysisError
from worker.signals.generator import generator_evidence
t = time.perf_counter()
try:
    outcome = [e["source"] for e in generator_evidence(sys.argv[1], {})]
except AnalysisError as exc:
    outcome = "AnalysisError: " + str(exc)
print(repr((time.perf_counter() - t, peak_mib(), outcome)))
"""


def probe(path, timeout: float = 60) -> tuple[float, float, object]:
    """generator_evidence on one file in a fresh interpreter: (seconds, peak MiB, sources or error)."""
    try:
        out = subprocess.run([sys.executable, "-c", _PROBE, str(path)], capture_output=True, text=True,
                             timeout=timeout, cwd=ROOT, check=True).stdout
    except subprocess.TimeoutExpired:
        pytest.fail(f"generator_evidence took more than {timeout} s on {path.name}")
    return eval(out.strip().splitlines()[-1])  # noqa: S307 - our own probe's repr


def test_a1111_settings_regex_bombs_are_linear(tmp_path):
    for name, data in {"quadratic.png": a1111_quadratic(200_000), "exponential.png": a1111_exponential(60)}.items():
        path = tmp_path / name
        path.write_bytes(data)
        seconds, _, sources = probe(path)
        assert seconds < 10, (name, seconds)  # before: 81-129 s, and about 1.6**60 steps (0.3 s now, alone)
        assert isinstance(sources, list), sources


def test_settings_parser_edge_cases_and_cost():
    line = 'Steps: 20, Sampler: Euler a, Lora hashes: "a: 1, b: 2", Odd: "x" y, Esc: "q\\"r", Seed: 7, Open: "no end, K: 5'
    assert parse_settings(line) == {"Steps": "20", "Sampler": "Euler a", "Lora hashes": "a: 1, b: 2", "Odd": 'x" y',
                                    "Esc": 'q\\"r', "Seed": "7", "Open": "no end", "K": "5"}
    for hostile in ('k: "' + "\\" * 400_000, ', a: "\\"' * 100_000 + '"x', "a" * 500_000, "k: " + '"x" y, ' * 80_000):
        started = time.perf_counter()
        parse_a1111("prompt\nSteps: 1, Sampler: x, " + hostile)
        assert time.perf_counter() - started < 5, hostile[:20]  # 0.1-0.3 s alone; the machine is shared


def test_every_text_chunk_is_cut_at_the_limit(tmp_path):
    path = tmp_path / "big.png"
    path.write_bytes(png_with_text("PARAMETERS", "Steps: 1, Sampler: x, " + "y" * (3 * TEXT_MAX_BYTES)))
    texts = texts_from_file(str(path))
    assert texts and all(len(v) <= TEXT_MAX_BYTES for v in texts.values())
    started = time.perf_counter()
    generator_evidence(str(path), {"PNG:PARAMETERS": "z" * (3 * TEXT_MAX_BYTES)})
    assert time.perf_counter() - started < 10


def test_png_texts_reads_all_three_kinds_and_drops_bombs(tmp_path):
    info = PngInfo()
    info.add_text("parameters", "plain")
    info.add_text("Comment", "squeezed", zip=True)
    info.add_itxt("Description", "unicodé", zip=True)
    path = tmp_path / "t.png"
    Image.new("RGB", (8, 8)).save(path, pnginfo=info)
    assert png_texts(str(path)) == {"parameters": "plain", "Comment": "squeezed", "Description": "unicodé"}
    small = io.BytesIO()
    Image.new("RGB", (8, 8)).save(small, "PNG")
    png = small.getvalue()
    body = b"Comment\0\0" + zlib.compress(b"A" * (8 * TEXT_MAX_BYTES), 9)
    chunk = len(body).to_bytes(4, "big") + b"zTXt" + body + zlib.crc32(b"zTXt" + body).to_bytes(4, "big")
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png[:-12] + chunk + png[-12:])  # after IDAT: Pillow only meets it when decoding
    assert png_texts(str(bomb)) == {}


def test_inflate_is_bounded():
    assert inflate(zlib.compress(b"abc")) == b"abc"
    assert inflate(gzip.compress(b"abc"), GZIP) == b"abc"
    with pytest.raises(TooLarge):
        inflate(zlib.compress(b"\0" * (TEXT_MAX_BYTES + 1)))
    with pytest.raises(zlib.error):
        inflate(b"not zlib at all")


def test_stealth_text_bomb_fails_with_its_reason_in_bounded_memory(tmp_path):
    path = tmp_path / "stealth-bomb.png"
    path.write_bytes(stealth_bomb(1024))  # 120 KiB on disk, 1 GiB of gzip'd text in the alpha LSBs
    seconds, peak_mib, outcome = probe(path)
    assert str(outcome).startswith("AnalysisError: the text hidden in the alpha channel"), outcome
    assert "decompression bomb" in outcome
    assert seconds < 30 and peak_mib < 400, (seconds, peak_mib)  # before: 12-16 s, 2,258 MiB, no error; now 2 s, 307 MiB


def test_real_stealth_text_is_still_read(tmp_path):
    path = tmp_path / "stealth.png"
    path.write_bytes(stealth_a1111("a fox\nSteps: 20, Sampler: Euler, Seed: 42, Model: sd15"))
    items = generator_evidence(str(path), {})
    assert [(e["source"], e["value"]["seed"]) for e in items] == [("PNG:alpha-LSB stealth_pnginfo", "42")]
    with Image.open(path) as im:  # the worker's own RGBA image, as passed in
        with pytest.raises(AnalysisError):
            generator_evidence(str(tmp_path / "none.png"), {}, _bomb_image(tmp_path))
        assert generator_evidence(str(path), {}, im.copy())


def _bomb_image(tmp_path) -> Image.Image:
    path = tmp_path / "b.png"
    path.write_bytes(stealth_bomb(4, side=256))
    with Image.open(path) as im:
        return im.copy()


def test_parse_a1111_unchanged_on_a_plain_text():
    text = "a cat\nNegative prompt: dog\nSteps: 20, Sampler: Euler, Seed: 7, Model: sdxl, Version: f0.0.17"
    assert parse_a1111(text) == {"generator": "Forge", "model": "sdxl", "seed": "7", "prompt": "a cat",
                                 "version": "f0.0.17"}
