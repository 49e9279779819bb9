"""The API documentation page in a real Chromium: Swagger UI, served by the app itself under the app's CSP, shows
the operations of our OpenAPI document, with no failed request and no console error."""
from __future__ import annotations

import pytest

from tests.test_browser_pages import live  # noqa: F401 - a live server without a worker: the page needs none
from tests.test_browser_result import browser  # noqa: F401 - one Chromium for this module
from tests.test_browser import DESKTOP, PHONE

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE],
                         ids=["desktop", "phone"])
def test_docs_page_renders_our_operations_offline(live, browser, viewport, tmp_path):  # noqa: F811
    server, app = live
    with app.test_client() as client:
        document = client.get("/api/v1/openapi.json").get_json()
    page = browser.new_page(viewport=viewport)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"failed: {r.url} {r.failure}"))
    page.on("response", lambda r: problems.append(f"{r.status}: {r.url}") if r.status >= 400 else None)
    elsewhere: list[str] = []
    page.on("request", lambda r: elsewhere.append(r.url) if not r.url.startswith((server.url, "data:")) else None)
    try:
        page.goto(server.url + "/")
        page.click("#api-docs-link")  # linked from every page's navigation
        page.wait_for_url("**/api/v1/docs")
        upload = page.locator(".opblock-post", has=page.locator(".opblock-summary-path",
                                                                 has_text="/api/v1/analyses"))
        upload.first.wait_for(timeout=30_000)
        assert page.locator(".swagger-ui .title").first.inner_text().startswith(document["info"]["title"])
        shown = page.locator(".opblock").count()
        operations = sum(1 for ops in document["paths"].values() for m in ops if m in ("get", "post", "delete",
                                                                                      "put", "patch"))
        assert shown == operations, (shown, operations)
        upload.first.locator(".opblock-summary").first.click()  # expand: its parameters and responses
        page.locator(".opblock-post.is-open .responses-table").first.wait_for(timeout=10_000)
        assert page.locator(".opblock-post.is-open").get_by_text("202", exact=True).count() >= 1
        page.screenshot(path=str(tmp_path / "apidocs.png"))
        if viewport == PHONE:
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        assert problems == [] and elsewhere == []
    finally:
        page.close()
