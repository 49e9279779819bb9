"""Many files from the browser, in a real headless Chromium against a real web server and worker: a dropped mix
of good and broken files becomes a batch whose page fills in live, its CSV is downloaded, /batches lists it; a
folder and too many files are checked before sending, a ZIP goes through, and the server's own 413 is shown."""
from __future__ import annotations

import base64
import csv
import io
import zipfile

import pytest

from shared import levels
from tests.conftest import camera_like_jpeg, make_png
from tests.live import WebServer, Worker, app_for, isolated
from tests.test_browser import ARGS, CHROMIUM, DESKTOP, PHONE

pytestmark = pytest.mark.slow
MAX_FILES = 6  # the web server's MAX_BATCH_FILES here, so "too many" is cheap to reach

DROP = """async (files) => {
  const transfer = new DataTransfer();
  for (const f of files) {
    const bytes = Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0));
    transfer.items.add(new File([bytes], f.name, {type: f.type}));
  }
  const form = document.getElementById("upload-form");
  for (const type of ["dragenter", "dragover", "drop"]) {
    form.dispatchEvent(new DragEvent(type, {dataTransfer: transfer, bubbles: true, cancelable: true}));
  }
}"""
# what upload.js writes under its progress bar, and the batch page's counts, as they change
RECORD = """(id) => {
  window.__seen = [];
  new MutationObserver(() => window.__seen.push(document.getElementById(id).textContent))
    .observe(document.getElementById(id), {childList: true, characterData: true, subtree: true});
}"""
PREVIEWS_LOADED = """() => [...document.querySelectorAll('#batch-items .item.done img')]
  .every((i) => i.complete && i.naturalWidth > 0)"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    if not CHROMIUM.exists():
        pytest.fail("Debian chromium is missing: scripts/setup.sh --test installs it")
    from playwright.sync_api import sync_playwright

    overrides = isolated(tmp_path_factory.mktemp("batch-ui"), "batch-ui")
    with app_for(overrides), sync_playwright() as pw:
        worker = Worker(overrides).wait_ready()
        web = WebServer(overrides, env={"MAX_BATCH_FILES": str(MAX_FILES)})
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page, errors = browser.new_page(accept_downloads=True), []
        page.on("pageerror", lambda exc: errors.append(str(exc)))  # a script that threw fails the test
        try:
            yield web, page, errors
        finally:
            browser.close()
            web.stop()
            worker.stop()


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """Three good images (two camera JPEGs, a PNG) and a JPEG cut short, as name -> bytes."""
    tmp = tmp_path_factory.mktemp("photos")
    first = camera_like_jpeg(tmp / "harbour.jpg").read_bytes()
    second = camera_like_jpeg(tmp / "market.jpg", size=(480, 360)).read_bytes()
    return {"harbour.jpg": first, "market.jpg": second, "diagram.png": make_png((320, 240)),
            "broken.jpg": first[: len(first) // 3]}


def _zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return buf.getvalue()


def _wait_done(page) -> None:
    page.wait_for_function("() => document.getElementById('batch-state').textContent === 'done'", timeout=240_000)


def test_dropped_mixed_files_become_a_batch_that_fills_in_live(stack, photos):
    web, page, errors = stack
    page.set_viewport_size(DESKTOP)
    page.goto(web.url + "/")
    dropped = [{"name": n, "type": "image/png" if n.endswith(".png") else "image/jpeg",
                "b64": base64.b64encode(d).decode()} for n, d in photos.items()]
    dropped.append({"name": "notes.txt", "type": "text/plain", "b64": base64.b64encode(b"not a picture").decode()})
    page.evaluate(DROP, dropped)
    assert page.inner_text("#selection-summary").startswith("4 files")
    assert "notes.txt: not an image" in page.inner_text("#skipped")  # left out before sending, and said so
    page.fill("#batch-name", "from the source")
    page.click("#submit")
    page.wait_for_url("**/batches/*")
    batch_url = page.url
    page.evaluate("window.__marker = 1")
    page.evaluate(RECORD, "batch-counts")
    _wait_done(page)
    assert page.evaluate("window.__marker") == 1  # it polled: no reload
    assert page.evaluate("window.__seen.length") >= 1  # the counts changed on the page while we watched
    assert page.inner_text("#batch-counts").startswith("4 of 4 finished · 3 done · 1 failed")
    items = page.locator("#batch-items .item")
    assert items.count() == 4
    page.wait_for_function(PREVIEWS_LOADED, timeout=30_000)
    assert page.locator("#batch-items .item.done img").count() == 3  # each good file's preview
    for k in range(3):
        assert page.locator("#batch-items .item.done .badge").nth(k).inner_text() in [lv.label for lv in levels.LEVELS]
    failed = page.locator("#failed-list li")
    assert failed.count() == 1 and failed.locator("a").inner_text() == "broken.jpg"
    reason = failed.locator(".reason").inner_text()
    assert reason and reason != "failed"  # the worker's own reason
    assert page.locator("#batch-items .item.failed .reason").inner_text() == reason

    with page.expect_download() as download:
        page.click("#download-csv")
    rows = list(csv.DictReader(io.StringIO(download.value.path().read_text())))
    assert sorted(r["filename"] for r in rows) == sorted(photos)
    by_name = {r["filename"]: r for r in rows}
    assert by_name["broken.jpg"]["status"] == "failed" and by_name["broken.jpg"]["error"] == reason
    assert all(by_name[n]["status"] == "done" and by_name[n]["verdict"] in ("real", "uncertain", "fake")
               for n in ("harbour.jpg", "market.jpg", "diagram.png"))

    page.click("header nav >> text=Batches")
    page.wait_for_url("**/batches")
    row = page.locator("table.batches tbody tr").first
    assert row.locator("a").inner_text() == "from the source"
    assert " ".join(row.locator("td.counts").inner_text().split()) == "3 done · 1 failed · 4 in all"
    row.locator("a").click()
    page.wait_for_url(batch_url)

    page.set_viewport_size(PHONE)  # the batch page and the list at phone width: nothing wider than the screen
    for url in (batch_url, web.url + "/batches", web.url + "/"):
        page.goto(url)
        page.wait_for_load_state("networkidle")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], url
    assert not errors


def test_folder_and_too_many_files_are_checked_before_sending(stack, photos, tmp_path):
    web, page, errors = stack
    page.set_viewport_size(DESKTOP)
    folder = tmp_path / "assignment"
    folder.mkdir()
    for name in ("harbour.jpg", "diagram.png"):
        (folder / name).write_bytes(photos[name])
    (folder / "caption.txt").write_text("words")
    page.goto(web.url + "/")
    page.set_input_files("#folder", str(folder))  # the folder picker (webkitdirectory)
    assert page.inner_text("#selection-summary").startswith("2 files")
    assert page.input_value("#batch-name") == "assignment" and "caption.txt" in page.inner_text("#skipped")

    many = []
    for k in range(MAX_FILES + 1):
        (tmp_path / f"p{k}.png").write_bytes(photos["diagram.png"])
        many.append(str(tmp_path / f"p{k}.png"))
    page.set_input_files("#file", many)
    error = page.locator("#upload-error")
    assert error.is_visible() and error.inner_text() == \
        f"Too many files: {MAX_FILES + 1} chosen; a batch may hold at most {MAX_FILES}."
    page.click("#submit")
    assert page.url == web.url + "/"  # nothing was sent
    assert not errors


def test_a_zip_through_the_browser_and_the_servers_own_refusal(stack, photos, tmp_path):
    web, page, errors = stack
    page.goto(web.url + "/")
    crowded = tmp_path / "crowded.zip"  # more files inside than a batch may hold: only the server can tell
    crowded.write_bytes(_zip({f"p{k}.png": photos["diagram.png"] for k in range(MAX_FILES + 1)}))
    page.set_input_files("#file", str(crowded))
    assert page.input_value("#batch-name") == "crowded"
    page.evaluate(RECORD, "upload-status")
    page.click("#submit")
    page.wait_for_selector("#upload-error:not([hidden])")
    assert page.inner_text("#upload-error") == \
        f"Refused (413): crowded.zip: the archive has {MAX_FILES + 1} files; the limit is {MAX_FILES}"
    seen = page.evaluate("window.__seen")
    assert any(s.startswith("Uploading: ") and s.endswith("(100 %)") for s in seen), seen  # the upload's progress
    assert page.is_enabled("#submit")

    good = tmp_path / "sent.zip"
    good.write_bytes(_zip({"sent/harbour.jpg": photos["harbour.jpg"], "sent/diagram.png": photos["diagram.png"]}))
    page.set_input_files("#file", str(good))
    page.click("#submit")
    page.wait_for_url("**/batches/*")
    _wait_done(page)
    assert page.inner_text("#batch-counts").startswith("2 of 2 finished · 2 done")
    assert sorted(page.locator("#batch-items .item .name").all_inner_texts()) == ["diagram.png", "harbour.jpg"]
    assert page.locator("h1").inner_text() == "Batch sent"
    assert not errors
