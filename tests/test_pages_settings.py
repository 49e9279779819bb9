"""Issue 11 item 9: the pages work in every combination of REQUIRE_API_KEY and WEB_UI (their scripts poll the
pages' own routes, never the keyed API)."""
from __future__ import annotations

import io
import re

import pytest

from tests.conftest import make_jpeg
from tests.test_pages import csrf_token


@pytest.fixture
def make(overrides):
    from web import create_app

    made = []

    def build(**settings):
        app = create_app(overrides | settings)
        app.config["TESTING"] = True
        made.append(app)
        return app.test_client()

    yield build
    for app in made:
        app.extensions["db_engine"].dispose()


def status_url(html: str) -> str:
    return re.search(r'data-status-url="([^"]+)"', html).group(1)


@pytest.mark.parametrize("require_api_key", [False, True])
def test_result_and_batch_pages_poll_routes_that_answer(make, require_api_key):
    # a keyless batch made while keys were optional, then seen by a server with the setting under test
    batch = make().post("/api/v1/batches", data={"files": [(io.BytesIO(make_jpeg()), "b.jpg")]},
                        content_type="multipart/form-data").get_json()
    client = make(require_api_key=require_api_key, web_ui=True)
    upload = client.post("/analyses", data={"csrf_token": csrf_token(client),
                                            "file": (io.BytesIO(make_jpeg(color=(5, 6, 7))), "p.jpg")},
                         content_type="multipart/form-data")
    assert upload.status_code == 303
    polled = client.get(status_url(client.get(upload.headers["Location"]).get_data(as_text=True)))
    assert polled.status_code == 200, polled.get_data(as_text=True)[:200]
    assert polled.get_json()["status"] == "queued" and polled.get_json()["filename"] == "p.jpg"

    html = client.get(f"/batches/{batch['id']}").get_data(as_text=True)
    progress = client.get(status_url(html) + "?per_page=1")
    assert progress.status_code == 200 and progress.get_json()["counts"]["queued"] == 1
    links = re.findall(r'href="([^"]*results[^"]*)"', html)
    assert len(links) == 3
    for link in links:
        resp = client.get(link.replace("&amp;", "&"))
        assert resp.status_code == 200 and "b.jpg" in resp.get_data(as_text=True)


@pytest.mark.parametrize("require_api_key", [False, True])
def test_with_the_web_ui_off_the_page_routes_are_403(make, require_api_key):
    batch = make().post("/api/v1/batches", data={"files": [(io.BytesIO(make_jpeg()), "b.jpg")]},
                        content_type="multipart/form-data").get_json()
    client = make(require_api_key=require_api_key, web_ui=False)
    for url in ("/", f"/batches/{batch['id']}/status", f"/batches/{batch['id']}/results"):
        assert client.get(url).status_code == 403
