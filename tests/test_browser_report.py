"""The report in a real Chromium: from the result page's "Download report" link to a PDF printed with the print
styles (page.pdf), whose text carries the file's SHA-256, the verdict, the model version, the evidence and the label."""
from __future__ import annotations

import hashlib
import io

import pytest
from pypdf import PdfReader

from tests.conftest import camera_like_jpeg
from tests.live import wait_maps
from tests.test_browser import ARGS, CHROMIUM, live, upload  # noqa: F401 - live: a stack of this module's own
from tests.test_browser_review import set_label

pytestmark = pytest.mark.slow
IMAGES_LOADED = "() => [...document.images].every(i => i.complete && i.naturalWidth > 0)"
A4_CONTENT = {"width": 704, "height": 1010}  # CSS px inside the report's A4 margins (186 mm x 267 mm)
FITS = """() => ({images: document.images.length, width: document.documentElement.clientWidth,
  widest: Math.max(...[...document.images].map(i => i.getBoundingClientRect().right)),
  scroll: document.documentElement.scrollWidth})"""


def squashed(text: str) -> str:
    """Text without whitespace: a PDF breaks a 64-character hash or a long reason over lines."""
    return "".join(text.split())


def test_report_prints_to_a_pdf_with_the_facts(live, tmp_path):  # noqa: F811
    from playwright.sync_api import sync_playwright

    photo = camera_like_jpeg(tmp_path / "source-photo.jpg")
    sha256 = hashlib.sha256(photo.read_bytes()).hexdigest()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page()
        try:
            upload(page, live.url, photo)
            set_label(page, "real", "photographer sent the raw file")
            status = wait_maps(lambda url: page.request.get(url).json(), page.url + "/status")
            assert status["maps_state"] == "ready", status.get("maps_error")

            page.click("#report-link")
            page.wait_for_url("**/report")
            page.wait_for_function(IMAGES_LOADED, timeout=30_000)
            page.emulate_media(media="print")
            page.set_viewport_size(A4_CONTENT)
            assert not page.locator(".report-tools").is_visible()  # no navigation or links bar on paper
            fit = page.evaluate(FITS)
            assert fit["images"] >= 2 and fit["widest"] <= fit["width"] and fit["scroll"] <= fit["width"], fit
            page.screenshot(path=str(tmp_path / "report-print.png"), full_page=True)  # to look at when it fails
            pdf = page.pdf(format="A4", prefer_css_page_size=True, print_background=True)
            (tmp_path / "report.pdf").write_bytes(pdf)
        finally:
            browser.close()

    reader = PdfReader(io.BytesIO(pdf))
    text = "\n".join(p.extract_text() for p in reader.pages)
    flat = squashed(text)
    assert sha256 in flat and status["sha256"] == sha256
    assert f"{status['level_label']}{status['verdict']}".replace(" ", "") in flat  # the level, then the verdict
    assert status["model_version"] in flat
    metadata_item = next(e for e in status["evidence"] if e["kind"] == "metadata_score")
    assert squashed(metadata_item["reason"]) in flat
    assert squashed("photographer sent the raw file") in flat and "real(current)" in flat
    assert "Backtotheresult" not in flat and "SaveasPDF" not in flat  # the screen-only bar is not printed
    # the preview and every map are embedded, each within the page's width
    maps = status["result"]["maps"]
    assert maps and all(squashed(m["title"]) in flat for m in maps)
    assert sum(len(p.images) for p in reader.pages) >= 1 + len(maps)
    for p in reader.pages:
        assert float(p.mediabox.width) == pytest.approx(595, abs=1)  # A4, from the page's @page rule
