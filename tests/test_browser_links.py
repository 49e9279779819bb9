"""Paste an image link on the upload page in a real Chromium at 1366 and 390 px: the result page shows where the
image came from and the reverse image search links (encoded, opened only on a click); a refused link shows the
server's own message; nothing overflows on a phone."""
from __future__ import annotations

import pytest

from shared import reverse_search
from tests.conftest import camera_like_jpeg
from tests.live import WebServer, app_for, isolated
from tests.receivers import ImageServer
from tests.test_browser import CHROMIUM, DESKTOP, PHONE
from tests.test_browser_pages import SCROLL_WIDTH, WIDTHS
from tests.test_browser_result import browser  # noqa: F401 - one Chromium for this module

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """The pages' live server (gunicorn; no worker: the result page's source and links need no verdict), with an
    image server on 127.0.0.1 that links may reach."""
    if not CHROMIUM.exists():
        pytest.fail("Debian chromium is missing: scripts/setup.sh --test installs it")
    tmp = tmp_path_factory.mktemp("links")
    overrides = isolated(tmp, "links", link_allow_private=True)
    images = ImageServer(camera_like_jpeg(tmp / "linked.jpg").read_bytes())
    with app_for(overrides) as app:
        web = WebServer(overrides)
        yield web, images, app
        web.stop()
    images.close()


def set_aside(app) -> None:
    """Finish the analyses a test left queued (no worker here), so the same bytes by link make a new one."""
    from sqlalchemy import update

    from shared.models import Analysis, Status

    with app.extensions["db_sessionmaker"]() as s:
        s.execute(update(Analysis).values(status=Status.FAILED, error="set aside by the test"))
        s.commit()


def fits(page, width: int) -> None:
    assert page.evaluate(SCROLL_WIDTH) <= width
    overflowing = page.evaluate("""(width) => Array.from(document.querySelectorAll('body *')).filter((el) => {
        const r = el.getBoundingClientRect();
        return r.width > 0 && (r.right > width + 1 || r.left < -1) && getComputedStyle(el).position !== 'fixed'
               && !el.closest('.visually-hidden');
      }).map((el) => el.tagName + '#' + el.id + '.' + el.className)""", width)
    assert not overflowing, overflowing


@WIDTHS
def test_paste_a_link_reach_the_result_with_its_source_and_reverse_search_links(live, browser, viewport):
    web, images, app = live
    set_aside(app)
    # a long link (a query) that must wrap on a phone; the redirect lands on the image
    link = images.url("/r/0?from=" + "a-rather-long-newsroom-reference-" * 3 + f"{viewport['width']}")
    final = images.url("/photo.jpg")
    page = browser.new_page(viewport=viewport)
    try:
        page.goto(web.url + "/")
        fits(page, viewport["width"])
        page.fill("#link-url", link)
        page.click("#link-submit")
        page.wait_for_url("**/analyses/*", timeout=30_000)
        assert page.inner_text("#source-url") == link
        assert page.inner_text("#source-final-url") == final
        assert page.inner_text("#source-address") == "127.0.0.1"
        anchors = page.locator("#reverse-search a")
        expected = reverse_search.links(final)
        assert anchors.count() == len(expected) == 4
        for k, (name, href) in enumerate(expected):
            a = anchors.nth(k)
            assert a.inner_text() == name and a.get_attribute("href") == href
            assert a.get_attribute("target") == "_blank" and a.get_attribute("rel") == "noopener noreferrer"
        assert "%3A%2F%2F127.0.0.1%3A" in anchors.nth(0).get_attribute("href")
        assert "Nothing is sent to these engines unless you click a link" in page.inner_text("#source-box")
        fits(page, viewport["width"])
    finally:
        page.close()


@WIDTHS
def test_a_refused_link_shows_the_servers_message(live, browser, viewport):
    web, images, _ = live
    page = browser.new_page(viewport=viewport)
    try:
        page.goto(web.url + "/")
        page.fill("#link-url", images.url("/page.html"))
        page.click("#link-submit")
        page.wait_for_selector("#upload-error:not([hidden])", timeout=30_000)
        message = page.inner_text("#upload-error")
        assert message.startswith("Refused (415): unsupported file type")
        assert images.url("/page.html") in message and "text/html" in message
        assert page.url.rstrip("/") == web.url  # still on the upload page
        page.fill("#link-url", images.url("/missing"))
        page.click("#link-submit")
        page.wait_for_function("() => document.getElementById('upload-error').textContent.includes('404')")
        assert "Refused (422): the link" in page.inner_text("#upload-error")
        fits(page, viewport["width"])
    finally:
        page.close()
