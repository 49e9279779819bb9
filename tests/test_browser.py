"""A real headless Chromium (Debian's, driven by Playwright) uploads an image and sees the verdict appear."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from tests.conftest import camera_like_jpeg, write_tags
from tests.live import ROOT, WebServer, Worker, app_for, isolated

pytestmark = pytest.mark.slow
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# the two widths every page is tried at: a newsroom laptop and a phone
DESKTOP, PHONE = {"width": 1366, "height": 900}, {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    if not CHROMIUM.exists():
        pytest.fail("Debian chromium is missing: scripts/setup.sh --test installs it")
    overrides = isolated(tmp_path_factory.mktemp("browser"), "browser")
    with app_for(overrides):
        worker = Worker(overrides).wait_ready()
        web = WebServer(overrides)
        yield web
        web.stop()
        worker.stop()


def upload(page, base_url: str, photo: Path, timeout_ms: int = 120_000) -> str:
    """Upload a file from the upload page and wait for its verdict on the result page; that page's URL."""
    page.goto(base_url + "/")
    page.set_input_files("#file", str(photo))
    page.click("#submit")
    page.wait_for_selector("#verdict-box:not([hidden])", timeout=timeout_ms)
    return page.url


@pytest.fixture(scope="module")
def page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page()
        yield page
        browser.close()


def test_upload_and_watch_the_verdict_appear_without_reload(live, page, tmp_path):
    photo = camera_like_jpeg(tmp_path / "holiday.jpg")
    page.goto(live.url + "/")
    page.set_input_files("#file", str(photo))
    page.click("#submit")
    page.wait_for_url("**/analyses/*")
    result_url = page.url
    page.wait_for_selector("#verdict-box:not([hidden])", timeout=120_000)
    assert page.url == result_url  # no reload, no navigation: the page polled
    assert page.inner_text("#status") == "done"
    assert page.inner_text("#verdict") in ("real", "uncertain", "fake")
    assert "%" in page.inner_text("#fake-probability")
    # one card per detector of the shipped ensemble, each with its own score
    spec = json.loads((ROOT / "models" / "ensemble.json").read_text())
    cards = page.locator(".detector-card")
    assert [cards.nth(k).get_attribute("data-detector") for k in range(cards.count())] == \
        [m["name"] for m in spec["members"]]
    assert all("%" in cards.nth(k).inner_text() for k in range(cards.count()))
    assert page.locator("#reasons li").count() >= 1
    assert page.locator("#confidence-chart").is_visible()
    assert page.evaluate("typeof Chart") == "function"
    page.screenshot(path=str(tmp_path / "result.png"), full_page=True)
    # the history lists it, linking back
    page.goto(live.url + "/history")
    assert page.locator("text=holiday.jpg").count() == 1


def test_hostile_metadata_renders_as_text(live, page, tmp_path):
    photo = camera_like_jpeg(tmp_path / "evil.jpg")
    write_tags(photo, "-Make=<img src=x onerror=window.pwned=1>", "-ImageDescription=<script>window.pwned=2</script>")
    page.goto(live.url + "/")
    page.set_input_files("#file", str(photo))
    page.click("#submit")
    page.wait_for_selector("#verdict-box:not([hidden])", timeout=120_000)
    page.click("#metadata-link")
    page.wait_for_selector("text=<script>window.pwned=2</script>")
    assert page.evaluate("window.pwned") is None
    assert page.locator("img[src=x]").count() == 0


def test_failed_analysis_shows_its_reason(live, page, tmp_path):
    src = camera_like_jpeg(tmp_path / "whole.jpg", size=(800, 600))
    data = src.read_bytes()
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(data[: len(data) // 3])
    page.goto(live.url + "/")
    page.set_input_files("#file", str(cut))
    page.click("#submit")
    page.wait_for_selector("#failure:not([hidden])", timeout=120_000)
    assert "failed" in page.inner_text("#failure")
    assert page.inner_text("#status") == "failed"


# where the compose services find their database, broker, files and model: the test's own stack replaces these
INFRASTRUCTURE = {"DATABASE_URL", "REDIS_URL", "DATA_DIR", "UPLOAD_DIR", "MODEL_PATH", "CELERY_QUEUE", "SECRET_KEY",
                  "STORAGE_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}


def compose_settings() -> dict[str, str]:
    """The web service's environment in docker-compose.yml, less what points at the compose infrastructure."""
    env = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["web"]["environment"]
    # "${NAME:-default}" is what Compose substitutes with the default when NAME is unset
    default = lambda v: re.sub(r"\$\{\w+:-([^}]*)\}", lambda m: m[1], str(v))  # noqa: E731
    return {k: default(v) for k, v in env.items() if k not in INFRASTRUCTURE}


def test_compose_settings_result_page_shows_the_verdict(database_url, page, tmp_path):
    """Issue 11 item 9: as shipped (REQUIRE_API_KEY=true, WEB_UI=true) the result page still gets its verdict."""
    settings = compose_settings()
    assert settings["REQUIRE_API_KEY"] == "true" and settings["WEB_UI"] == "true"  # what made the pages hang
    overrides = isolated(tmp_path, "compose", database_url)
    with app_for(overrides):
        worker = Worker(overrides, env=settings).wait_ready()
        web = WebServer(overrides, env=settings)
        try:
            page.goto(web.url + "/")
            page.set_input_files("#file", str(camera_like_jpeg(tmp_path / "compose.jpg")))
            page.click("#submit")
            page.wait_for_selector("#verdict-box:not([hidden])", timeout=120_000)
            assert page.inner_text("#verdict") in ("real", "uncertain", "fake")
            assert "could not reach" not in page.inner_text("#status-note")
        finally:
            web.stop()
            worker.stop()
