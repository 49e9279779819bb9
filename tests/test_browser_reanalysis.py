"""A real headless Chromium re-analyses a result after a model update and sees both verdicts side by side."""
from __future__ import annotations

import pytest
from sqlalchemy import select, update

from shared import model_version
from shared.models import Analysis
from tests.conftest import camera_like_jpeg
from tests.test_browser_result import browser, live  # noqa: F401 - a stack (web, app) of this module's own

pytestmark = pytest.mark.slow
OLDER = "0" * 12 + "older-model"


def test_reanalyse_a_result_and_see_what_changed(live, browser, tmp_path):  # noqa: F811
    web, app = live
    photo = camera_like_jpeg(tmp_path / "from-a-source.jpg")
    page = browser.new_page()
    try:
        page.goto(web.url + "/")
        page.set_input_files("#file", str(photo))
        page.click("#submit")
        page.wait_for_selector("#verdict-box:not([hidden])", timeout=120_000)
        old_url, verdict = page.url, page.inner_text("#verdict")
        old_id = old_url.rsplit("/", 1)[-1]
        # a better model shipped since: this verdict becomes an older model's (test data, in the database)
        with app.extensions["db_sessionmaker"]() as s:
            s.execute(update(Analysis).where(Analysis.id == old_id).values(model_version=OLDER))
            s.commit()
        page.reload()
        page.wait_for_selector("#reanalyse-form:not([hidden])")
        page.dblclick("#reanalyse")  # an impatient double click: two submissions, the first one's load cut short
        # on the new analysis's page once its verdict is in (a selector wait outlives the navigations)
        page.wait_for_selector("#comparison-table:not([hidden])", timeout=120_000)
        assert page.url != old_url
        assert page.inner_text("#status") == "done"
        rows = {r.get_attribute("data-row"): r for r in page.locator("#comparison-table tbody tr").all()}
        assert rows["verdict"].locator("td").nth(0).inner_text() == verdict  # before, then now
        assert rows["verdict"].locator("td").nth(1).inner_text() == page.inner_text("#verdict")
        assert rows["model_version"].locator("td").nth(0).inner_text() == OLDER[:12]
        assert rows["model_version"].locator("td").nth(2).inner_text() == "new model"
        assert "changed" in rows["model_version"].get_attribute("class")
        assert "%" in rows["fake_probability"].inner_text()
        assert any(key.startswith("detector-") for key in rows)
        assert page.inner_text("#evidence-changes h4").startswith("Evidence: ")
        page.screenshot(path=str(tmp_path / "comparison.png"), full_page=True)
        new_id = page.url.rsplit("/", 1)[-1]
        with app.extensions["db_sessionmaker"]() as s:
            made = list(s.scalars(select(Analysis).where(Analysis.reanalysis_of == old_id)))
        assert [a.id for a in made] == [new_id]  # one re-analysis for the double click
        # the worker ran the current model: the version the web tier computes from MODEL_PATH's files
        assert made[0].model_version == model_version.of(app.config["SETTINGS"].model_path)
        assert made[0].pipeline_runs == 1 and made[0].reused_from is None
        page.click("#reanalysis-of")
        page.wait_for_url(old_url)
        assert page.locator("#reanalysed-by a").count() == 1
    finally:
        page.close()
