"""The analyst's pages in a real Chromium at 1366 and 390 px, on rows written straight to the database (no worker):
history thumbnails that fill in once made, and history, metadata and result pages that fit a phone."""
from __future__ import annotations

import io

import pytest
from PIL import Image

from shared import storage
from shared.models import Analysis, Batch, Maps, Status
from tests.conftest import make_jpeg
from tests.live import WebServer, app_for, isolated
from tests.test_browser import CHROMIUM, DESKTOP, PHONE
from tests.test_browser_result import browser  # noqa: F401 - one Chromium for this module

pytestmark = pytest.mark.slow
WIDTHS = pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1366", "390"])
SCROLL_WIDTH = "() => document.documentElement.scrollWidth"


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    if not CHROMIUM.exists():
        pytest.fail("Debian chromium is missing: scripts/setup.sh --test installs it")
    overrides = isolated(tmp_path_factory.mktemp("pages"), "pages")
    with app_for(overrides) as app:
        web = WebServer(overrides)
        yield web, app
        web.stop()


def add(app, name: str, sha: str, maps_state: str | None = Maps.READY, **fields) -> str:
    result = {"reasons": ["the detector says so"], "evidence": [], "maps": [], "fake_probability": 0.82,
              "thresholds": {"model_fake": 0.5, "model_real": 0.2},
              "robustness": [{"perturbation": p, "fake_probability": q}
                             for p, q in (("original", 0.82), ("jpeg-70", 0.78), ("half-size", 0.7))]}
    with app.extensions["db_sessionmaker"]() as s:
        a = Analysis(**{"filename": name, "sha256": sha, "media_type": "image/jpeg", "size_bytes": 1234, "width": 640,
                        "height": 480, "status": Status.DONE, "verdict": "fake", "fake_probability": 0.82,
                        "model_version": "e" * 64, "maps_state": maps_state, "result": result} | fields)
        s.add(a)
        s.commit()
        return a.id


def make_thumbnail(app, sha: str) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (30, 160, 60)).save(buf, "JPEG")
    with storage.store_for(app.config["SETTINGS"]).derived_writer(sha) as folder:
        (folder / "thumbnail.jpg").write_bytes(buf.getvalue())


def test_history_thumbnails_wait_as_placeholders_and_fill_in_when_made(live, browser):
    web, app = live
    sha = "7" * 64
    aid = add(app, "from-a-batch.jpg", sha, maps_state=Maps.PENDING)
    page = browser.new_page(viewport=DESKTOP)
    try:
        page.goto(web.url + "/history?filename=from-a-batch")
        cell = page.locator("td.thumb")
        page.wait_for_timeout(500)
        assert cell.locator(".placeholder").count() == 1 and cell.locator("img").count() == 0  # 409: no broken image
        make_thumbnail(app, sha)
        with app.extensions["db_sessionmaker"]() as s:
            s.get(Analysis, aid).maps_state = Maps.READY
            s.commit()
        page.wait_for_function("() => { const i = document.querySelector('td.thumb img');"
                               " return i && i.complete && i.naturalWidth === 64; }", timeout=15_000)
    finally:
        page.close()


@WIDTHS
def test_history_fits_the_screen_with_its_verdicts_in_view(live, browser, viewport):
    web, app = live
    for k in range(3):
        add(app, f"a-rather-long-file-name-from-a-newsroom-folder-{k}-" + "x" * 40 + ".jpg", f"{k:064x}",
            maps_state=Maps.FAILED, reanalysis_of=None)
    page = browser.new_page(viewport=viewport)
    try:
        page.goto(web.url + "/history")
        assert page.evaluate(SCROLL_WIDTH) <= viewport["width"]
        badges = page.locator("table.history .badge")
        assert badges.count() >= 3
        for k in range(badges.count()):
            box = badges.nth(k).bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"]
    finally:
        page.close()


@WIDTHS
def test_metadata_page_fits_the_screen_and_the_sha256_wraps(live, browser, viewport):
    web, app = live
    aid = add(app, "meta.jpg", "ab" * 32)
    with app.extensions["db_sessionmaker"]() as s:
        s.get(Analysis, aid).file_metadata = {"ICC_Profile": {"ProfileDescriptionMultiLanguageRecordName": "z" * 300},
                                              "EXIF": {"Make": "Canon", "ImageUniqueIDNumberOfTheCamera": "0" * 80}}
        s.commit()
    page = browser.new_page(viewport=viewport)
    try:
        page.goto(f"{web.url}/analyses/{aid}/metadata")
        assert page.evaluate(SCROLL_WIDTH) <= viewport["width"]
        sha = page.locator(".facts code").bounding_box()
        assert sha["x"] + sha["width"] <= viewport["width"]
    finally:
        page.close()


@WIDTHS
def test_confidence_chart_keeps_its_height_at_any_width(live, browser, viewport):
    web, app = live
    aid = add(app, "chart.jpg", "cd" * 32)
    page = browser.new_page(viewport=viewport)
    try:
        page.goto(f"{web.url}/analyses/{aid}")
        page.wait_for_selector("#chart-box:not([hidden])", timeout=30_000)
        page.wait_for_function("() => typeof Chart === 'function' && Chart.getChart('confidence-chart')")
        box = page.locator("#confidence-chart").bounding_box()
        assert box["height"] >= 200 and box["x"] + box["width"] <= viewport["width"]
        assert page.evaluate(SCROLL_WIDTH) <= viewport["width"]
    finally:
        page.close()


def test_an_image_too_small_for_the_detector_is_not_scored_on_its_card_and_in_its_batch(live, browser):
    from tests.test_not_scored import finish

    web, app = live
    small = finish(100, 80)
    with app.extensions["db_sessionmaker"]() as s:
        batch = Batch(total=1)
        s.add(batch)
        s.flush()
        a = Analysis(filename="tiny.jpg", sha256="5" * 64, media_type="image/jpeg", size_bytes=1, width=100,
                     height=80, status=Status.DONE, verdict=small.verdict, level=small.level, fake_probability=None,
                     result=small.result, batch_id=batch.id, maps_state=Maps.FAILED)
        s.add(a)
        s.commit()
        aid, batch_id = a.id, batch.id
    page = browser.new_page(viewport=PHONE)
    try:
        page.goto(f"{web.url}/analyses/{aid}")
        page.wait_for_selector("#verdict-box:not([hidden])", timeout=30_000)
        assert page.inner_text("#fake-probability").startswith("not scored")
        page.goto(f"{web.url}/batches/{batch_id}")
        page.wait_for_selector("#batch-items .item .line")
        line = page.inner_text("#batch-items .item .line")
        assert "not scored" in line and "%" not in line
    finally:
        page.close()


def test_the_upload_page_leaves_out_an_empty_file_and_counts_small_ones_in_bytes(live, browser):
    web, _ = live
    page = browser.new_page(viewport=PHONE)
    try:
        page.goto(web.url + "/")
        page.set_input_files("#file", [{"name": "empty.jpg", "mimeType": "image/jpeg", "buffer": b""},
                                       {"name": "tiny.jpg", "mimeType": "image/jpeg", "buffer": b"\xff\xd8\xff" * 100}])
        assert "empty.jpg: the file is empty" in page.inner_text("#skipped")
        assert page.inner_text("#selection-summary") == "1 file, 300 bytes."
    finally:
        page.close()


def test_the_current_model_is_not_offered_again_and_a_finished_batch_offers_its_re_analysis_live(live, browser):
    from shared import model_version
    from shared.models import utcnow

    web, app = live
    current = model_version.current(app.config["SETTINGS"].model_path)
    assert current, "the shipped model is where MODEL_PATH says"
    same = add(app, "current-model.jpg", "6" * 64, model_version=current)
    with app.extensions["db_sessionmaker"]() as s:
        batch = Batch(total=1)
        s.add(batch)
        s.flush()
        s.add(Analysis(filename="b.jpg", sha256="4" * 64, media_type="image/jpeg", size_bytes=1,
                       batch_id=batch.id, status=Status.RUNNING))
        s.commit()
        batch_id = batch.id
    page = browser.new_page(viewport=DESKTOP)
    try:
        page.goto(f"{web.url}/analyses/{same}")
        page.wait_for_selector("#verdict-box:not([hidden])", timeout=30_000)
        assert page.locator("#reanalyse-form").is_hidden() and page.locator("#same-model").is_visible()
        page.goto(f"{web.url}/batches/{batch_id}")
        page.wait_for_selector("#batch-items .item")
        assert page.locator("#reanalyse-batch-form").is_hidden()
        with app.extensions["db_sessionmaker"]() as s:
            s.query(Analysis).filter(Analysis.batch_id == batch_id).update(
                {"status": Status.DONE, "verdict": "real", "fake_probability": 0.1, "finished_at": utcnow()})
            s.get(Batch, batch_id).finished_at = utcnow()
            s.commit()
        page.wait_for_selector("#reanalyse-batch-form:not([hidden])", timeout=15_000)  # no reload
    finally:
        page.close()


def test_the_re_analysing_message_goes_when_the_verdict_is_in(live, browser):
    web, app = live
    with storage.store_for(app.config["SETTINGS"]).incoming(io.BytesIO(make_jpeg()), 10**6) as stored:
        pass  # a stored file, which a re-analysis needs
    old = add(app, "older-model.jpg", stored.sha256, model_version="0" * 64)
    page = browser.new_page(viewport=DESKTOP)
    try:
        page.goto(f"{web.url}/analyses/{old}")
        page.click("#reanalyse")
        page.wait_for_url(lambda url: old not in url)
        flash = page.locator(".flash[data-while-running]")
        assert flash.count() == 1 and "Re-analysing" in flash.inner_text()
        new = page.url.rsplit("/", 1)[-1]
        with app.extensions["db_sessionmaker"]() as s:  # the worker's part, written here
            s.get(Analysis, new).status, s.get(Analysis, new).verdict = Status.DONE, "real"
            s.get(Analysis, new).result = {"reasons": [], "evidence": [], "maps": []}
            s.commit()
        page.wait_for_selector("#verdict-box:not([hidden])", timeout=15_000)
        assert page.locator(".flash").count() == 0
    finally:
        page.close()
