"""The result page in a real Chromium at desktop and phone widths: the preview (upright), the level and verdict
beside it (above it on a phone, with the level's meaning on the first screen),
one card per detector and per decisive provenance item, the evidence filed by the registry, no sideways scroll."""
from __future__ import annotations

import json

import pytest

from shared import levels, signals
from shared.models import Analysis, Status
from tests.conftest import camera_like_jpeg, write_tags
from tests.live import ROOT, WebServer, Worker, app_for, isolated
from tests.test_browser import ARGS, CHROMIUM, DESKTOP, PHONE

pytestmark = pytest.mark.slow
PREVIEW_LOADED = "() => { const i = document.getElementById('preview'); return i.complete && i.naturalWidth > 0; }"


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    if not CHROMIUM.exists():
        pytest.fail("Debian chromium is missing: scripts/setup.sh --test installs it")
    overrides = isolated(tmp_path_factory.mktemp("result-page"), "result-page")
    with app_for(overrides) as app:
        worker = Worker(overrides).wait_ready()
        web = WebServer(overrides)
        yield web, app
        web.stop()
        worker.stop()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def rotated_result(live, browser, tmp_path_factory):
    """A camera JPEG stored landscape (640x480) with EXIF "rotate 90°", analysed by the real worker."""
    web, _ = live
    photo = write_tags(camera_like_jpeg(tmp_path_factory.mktemp("rot") / "rotated.jpg"), "-Orientation#=6")
    page = browser.new_page(viewport=DESKTOP)
    page.goto(web.url + "/")
    page.set_input_files("#file", str(photo))
    page.click("#submit")
    page.wait_for_url("**/analyses/*")
    page.wait_for_selector("#verdict-box:not([hidden])", timeout=180_000)
    url = page.url
    page.close()
    return url


def _geometry(page) -> dict:
    return page.evaluate("""() => {
      const i = document.getElementById('preview'), p = i.getBoundingClientRect(),
            v = document.getElementById('verdict-box').getBoundingClientRect();
      return {natural: [i.naturalWidth, i.naturalHeight], preview: [p.left, p.top, p.right, p.bottom],
              verdict: [v.left, v.top, v.right, v.bottom], scroll: document.documentElement.scrollWidth,
              meaning: document.getElementById('level-meaning').getBoundingClientRect().bottom};
    }""")


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_preview_is_upright_beside_or_above_the_verdict(rotated_result, browser, viewport):
    page = browser.new_page(viewport=viewport)
    try:
        page.goto(rotated_result)
        page.wait_for_selector("#verdict-box:not([hidden])", timeout=60_000)
        page.wait_for_function(PREVIEW_LOADED, timeout=30_000)
        g = _geometry(page)
        assert g["natural"] == [480, 640]  # stored 640x480, EXIF orientation 6: upright it is portrait
        assert page.locator("#verdict").inner_text() in ("real", "uncertain", "fake")
        # the level in words and what it means, with its measured rates when the detectors decided it
        assert page.locator("#level-label").inner_text() in [lv.label for lv in levels.LEVELS]
        assert len(page.locator("#level-meaning").inner_text()) > 40
        level = page.evaluate("() => document.getElementById('verdict-box').dataset.level")
        if levels.BY_NAME[level].band:
            assert "genuine photos" in page.locator("#level-rates").inner_text()
        # one card per shipped detector (models/ensemble.json)
        names = [m["name"] for m in json.loads((ROOT / "models" / "ensemble.json").read_text())["members"]]
        cards = page.locator("#detectors .detector-card")
        assert [cards.nth(k).get_attribute("data-detector") for k in range(cards.count())] == names
        if viewport is DESKTOP:  # side by side: the preview left, the verdict right, tops aligned
            assert g["preview"][2] <= g["verdict"][0] and abs(g["preview"][1] - g["verdict"][1]) < 5
        else:  # stacked, the level first and its meaning on the first screen, nothing wider than the phone
            assert g["verdict"][1] < g["preview"][1]
            assert g["meaning"] <= viewport["height"]
            assert g["scroll"] <= PHONE["width"]
    finally:
        page.close()


def crafted(app, filename: str, verdict: str, probability: float, **fields) -> str:
    """A finished analysis with a made-up result, on the bytes of a real done one (so its preview exists)."""
    with app.extensions["db_sessionmaker"]() as s:
        done = s.query(Analysis).filter(Analysis.status == Status.DONE).first()
        row = Analysis(filename=filename, sha256=done.sha256, media_type="image/jpeg", size_bytes=done.size_bytes,
                       status=Status.DONE, verdict=verdict, fake_probability=probability,
                       **{"model_version": done.model_version, "metadata_score": 0.5, **fields})
        s.add(row)
        s.commit()
        return row.id


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_detector_and_decisive_provenance_cards(live, rotated_result, browser, viewport):
    """A finished analysis with an ensemble's scores and a strong C2PA claim (the detector branch's result shape)."""
    web, app = live
    evidence = [
        {"kind": "c2pa", "source": "c2pa.manifest[m].digitalSourceType", "value": "trainedAlgorithmicMedia",
         "effect": "fake", "reason": "C2PA says trainedAlgorithmicMedia " + "x" * 200, "strong": True},
        {"kind": "watermark", "source": "invisible-watermark", "value": None, "effect": "neutral",
         "reason": "no watermark found"},
        {"kind": "model", "source": "detector a", "value": 0.9, "effect": "fake", "reason": "a says 90 %",
         "detector": "a"},
        {"kind": "metadata_score", "source": "EXIF:Make", "value": "Canon", "effect": "real", "reason": "camera"},
    ]
    detectors = [{"name": "effnet", "version": "1" * 64, "fake_probability": 0.91, "weight": 0.6},
                 {"name": "clip-probe", "version": "2" * 64, "fake_probability": 0.72, "weight": 0.4}]
    crafted_id = crafted(app, "ensemble-" + "n" * 120 + ".jpg", "fake", 0.83, model_version="e" * 64, metadata_score=0.8,
                         result={"evidence": evidence, "reasons": ["C2PA says so"], "maps": [],
                                 "detectors": detectors, "fake_probability": 0.83, "robustness": []})
    page = browser.new_page(viewport=viewport)
    try:
        page.goto(f"{web.url}/analyses/{crafted_id}")
        page.wait_for_selector("#verdict-box:not([hidden])", timeout=30_000)
        page.wait_for_function(PREVIEW_LOADED, timeout=30_000)
        cards = page.locator("#detectors .detector-card")
        assert [cards.nth(i).get_attribute("data-detector") for i in range(cards.count())] == ["effnet", "clip-probe"]
        assert "91.0 %" in cards.nth(0).inner_text()
        decisive = page.locator("#decisive .provenance-card")
        assert decisive.count() == 1 and decisive.get_attribute("data-kind") == "c2pa"
        assert signals.BY_KIND["c2pa"].title in decisive.inner_text()
        # the evidence is filed by the registry's groups and titles
        groups = page.locator("#evidence .evidence-group")
        assert [groups.nth(i).get_attribute("data-group") for i in range(groups.count())] == \
            ["provenance", "metadata", "model"]
        assert groups.nth(0).locator("h4").inner_text() == signals.GROUPS["provenance"]
        if viewport is PHONE:
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    finally:
        page.close()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_broken_content_credentials_read_as_sentences(live, rotated_result, browser, viewport):
    """A C2PA photo edited after signing: the card says so in words (signer, tool, edits, trust), its details are
    lines, not JSON, on the page and in the printed report."""
    from tests.conftest import shared_path
    from worker.signals.content_credentials import c2pa_evidence

    evidence = c2pa_evidence(str(shared_path("samples", "c2pa", "public-testfiles", "adobe-20220124-E-dat-CA.jpg")))
    web, app = live
    crafted_id = crafted(app, "edited-after-signing.jpg", "uncertain", 0.4,
                         result={"evidence": evidence, "reasons": [evidence[0]["reason"]], "maps": [],
                                 "fake_probability": 0.4, "robustness": []})
    page = browser.new_page(viewport=viewport)
    try:
        page.goto(f"{web.url}/analyses/{crafted_id}")
        page.wait_for_selector("#verdict-box:not([hidden])", timeout=30_000)
        box = page.locator("#evidence")
        for i in range(box.locator("details").count()):  # open every value's details
            box.locator("details summary").nth(i).click()
        text = box.inner_text()
        assert "Modified after it was signed by C2PA Test Signing Cert" in text
        assert "adjusted colours" in text and "not on a trust list" in text
        assert "{" not in text and "signer issuer" in text  # the value as lines
        if viewport is PHONE:
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        page.goto(f"{web.url}/analyses/{crafted_id}/report")
        printed = page.locator("#r-evidence").inner_text()
        assert "Modified after it was signed by C2PA Test Signing Cert" in printed and "{" not in printed
    finally:
        page.close()
