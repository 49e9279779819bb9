"""A real headless Chromium labels an analysis on its result page, filters the history by it, sees the evaluation."""
from __future__ import annotations

import pytest

from tests.conftest import camera_like_jpeg
from tests.test_browser import ARGS, CHROMIUM, live, upload  # noqa: F401 - live: a stack of this module's own

pytestmark = pytest.mark.slow


def set_label(page, label: str, note: str) -> None:
    """Set a label with a note from the result page's review form, and wait for the page to show it."""
    page.select_option("#label", label)
    page.fill("#label-note", note)
    page.click("#label-submit")
    page.wait_for_selector("#current-label")


def test_label_on_the_result_page_then_history_filter_then_evaluation(live, tmp_path):  # noqa: F811
    from playwright.sync_api import sync_playwright

    photo = camera_like_jpeg(tmp_path / "reviewed.jpg")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page()
        try:
            result_url = upload(page, live.url, photo)
            verdict = page.inner_text("#verdict")
            # the opposite label where the verdict took a side, so the disagreement filter has something to show
            label = "real" if verdict == "fake" else "fake"
            set_label(page, label, "checked with the photographer")
            assert page.url == result_url and page.inner_text("#current-label") == label
            assert "by local" in page.inner_text("#label-history")

            page.goto(live.url + "/history")
            page.select_option("#label-filter", label)
            page.click("#filters button[type=submit]")
            page.wait_for_url(f"**label={label}**")
            assert page.locator("text=reviewed.jpg").count() == 1
            assert page.inner_text("td.label") == label
            other = "unsure"
            page.select_option("#label-filter", other)
            page.click("#filters button[type=submit]")
            page.wait_for_url(f"**label={other}**")
            assert page.locator("text=reviewed.jpg").count() == 0
            page.goto(live.url + "/history?disagrees=true")
            assert page.locator("text=reviewed.jpg").count() == (1 if verdict in ("real", "fake") else 0)

            page.click("text=Evaluation")
            page.wait_for_url("**/evaluation")
            section = page.locator("section.evaluation")
            assert section.count() == 1
            assert section.locator(f".n-{label}").inner_text() == "1"
            cell = section.locator(f'tr[data-label="{label}"] td[data-verdict="{verdict}"]')
            assert cell.inner_text() == "1"
            assert sum(int(c) for c in section.locator("table.confusion td").all_inner_texts()) == 1
            if verdict in ("real", "fake"):  # a disagreement, linked to its page
                page.click("ul.disagreements a")
                page.wait_for_url(result_url)
            page.screenshot(path=str(tmp_path / "evaluation.png"), full_page=True)
        finally:
            browser.close()
