"""The batch pages through the test client (SQLite and PostgreSQL): the upload page's batch route (CSRF, the
local user, JSON for its script, precise 4xx), the batch page's poll, and the /batches list with its paging."""
from __future__ import annotations

import dataclasses
import io
import zipfile
from datetime import timedelta

import pytest

from shared import keys
from shared.models import Analysis, Batch, Status, utcnow
from tests.conftest import make_jpeg, make_png
from tests.test_openapi import checker
from tests.test_pages import csrf_token

JSON = {"Accept": "application/json"}


def form(client, *pairs, **fields):
    return {"csrf_token": csrf_token(client), "files": [(io.BytesIO(data), name) for data, name in pairs]} | fields


def post(client, data, headers=None):
    return client.post("/batches", data=data, headers=headers or {}, content_type="multipart/form-data")


def test_upload_page_offers_many_files_within_the_server_limits(client, app):
    html = client.get("/").get_data(as_text=True)
    settings = app.config["SETTINGS"]
    assert f'data-batch-url="/batches"' in html and f'data-max-files="{settings.max_batch_files}"' in html
    assert f'data-max-batch-bytes="{settings.max_batch_bytes}"' in html and 'webkitdirectory' in html
    assert '"archives": [".zip"]' in html and '".heic"' in html  # the types, as data for upload.js
    assert 'href="/batches">Batches</a>' in html  # in the nav


def test_batch_from_the_page_is_the_local_users_and_answers_json_for_its_script(client, app):
    check = checker(app)
    resp = post(client, form(client, (make_jpeg(), "a.jpg"), (make_png(), "b.png"), (b"just text", "notes.txt"),
                             name="from the source"), JSON)
    assert resp.status_code == 202, resp.get_json()
    check(resp, "/api/v1/batches", "post")  # the body of the API's batch creation
    body = resp.get_json()
    assert body["total"] == 3 and body["name"] == "from the source" and body["counts"]["failed"] == 1
    assert body["page_url"] == f"/batches/{body['id']}" == resp.headers["Location"]
    with app.extensions["db_sessionmaker"]() as s:
        assert s.get(Batch, body["id"]).api_key_id is None  # the keyless local user, as the pages serve
    # its page's poll: the body of GET /api/v1/batches/<id>, each failed item with its reason
    status = client.get(f"/batches/{body['id']}/status?per_page=2")
    check(status, "/api/v1/batches/{batch_id}", "get")
    assert [i["filename"] for i in status.get_json()["items"]] == ["a.jpg", "b.png"]
    failed = client.get(f"/batches/{body['id']}/status?page=2&per_page=2").get_json()["items"]
    assert failed[0]["filename"] == "notes.txt" and failed[0]["error"].startswith("unsupported file type")
    assert client.get(f"/batches/{body['id']}/status?per_page=1000").status_code == 400
    page = client.get(body["page_url"]).get_data(as_text=True)
    assert 'data-status-url="/batches/' in page and "format=csv" in page and "format=jsonl" in page
    paged = client.get(body["page_url"] + "?page=2&per_page=2").get_data(as_text=True)
    assert 'data-page="2" data-per-page="2"' in paged and "Files 3–3 of 3" in paged and "Page 2 of 2" in paged
    assert f'href="/batches/{body["id"]}?page=1&amp;per_page=2" rel="prev"' in paged
    assert client.get(body["page_url"] + "?page=0").status_code == 400
    # without script: the form posts, the batch page follows
    plain = post(client, form(client, (make_jpeg(color=(1, 2, 3)), "c.jpg"), (make_png(), "d.png")))
    assert plain.status_code == 303 and plain.headers["Location"].startswith("/batches/")


def test_a_zip_from_the_page_is_opened_into_a_batch(client):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("folder/x.jpg", make_jpeg())
        z.writestr("folder/y.png", make_png())
    body = post(client, form(client, (buf.getvalue(), "source.zip")), JSON).get_json()
    assert body["total"] == 2 and body["counts"]["queued"] == 2


def test_refusals_are_precise_json_for_the_script_and_the_page_without_it(client, app):
    no_token = post(client, {"files": [(io.BytesIO(make_jpeg()), "a.jpg")]}, JSON)
    assert no_token.status_code == 400 and "CSRF" in no_token.get_json()["error"]
    empty = post(client, {"csrf_token": csrf_token(client)}, JSON)
    assert empty.status_code == 400 and "no files" in empty.get_json()["error"]
    app.config["SETTINGS"] = dataclasses.replace(app.config["SETTINGS"], max_batch_files=2)
    too_many = form(client, *[(make_jpeg(color=(i, 0, 0)), f"{i}.jpg") for i in range(3)])
    refused = post(client, too_many, JSON)
    assert refused.status_code == 413 and refused.get_json()["error"] == "a batch may hold at most 2 files"
    page = post(client, form(client, *[(make_jpeg(color=(i, 0, 0)), f"{i}.jpg") for i in range(3)]))
    assert page.status_code == 413 and "a batch may hold at most 2 files" in page.get_data(as_text=True)
    nul = post(client, form(client, (make_jpeg(), "a.jpg"), name="a\x00b"), JSON)
    assert nul.status_code == 400 and "NUL" in nul.get_json()["error"]
    with app.extensions["db_sessionmaker"]() as s:
        assert s.query(Batch).count() == 0 and s.query(Analysis).count() == 0  # nothing half made


def test_a_batch_over_the_body_limit_names_the_batch_limit(overrides):
    from web import create_app

    app = create_app(overrides | {"max_batch_mb": 1, "max_upload_mb": 1})
    try:
        client = app.test_client()
        big = [(io.BytesIO(b"\xff\xd8\xff" + bytes(1024 * 1024)), f"{i}.jpg") for i in range(3)]
        resp = client.post("/batches", data={"files": big}, headers=JSON, content_type="multipart/form-data")
        assert resp.status_code == 413
        assert resp.get_json()["error"] == "the upload is larger than the 1 MB limit of a batch"
        api = client.post("/api/v1/batches", data={"files": [(io.BytesIO(bytes(3 << 20)), "x.jpg")]},
                          content_type="multipart/form-data")
        assert api.status_code == 413 and "limit of a batch" in api.get_json()["error"]
    finally:
        app.extensions["db_engine"].dispose()


def test_one_image_from_the_script_answers_json_with_its_page(client, app):
    check = checker(app)
    token = csrf_token(client)
    resp = client.post("/analyses", data={"csrf_token": token, "file": (io.BytesIO(make_jpeg()), "one.jpg")},
                       headers=JSON, content_type="multipart/form-data")
    assert resp.status_code == 202
    check(resp, "/api/v1/analyses", "post")
    assert resp.get_json()["page_url"] == f"/analyses/{resp.get_json()['id']}"
    bad = client.post("/analyses", data={"csrf_token": token, "file": (io.BytesIO(b"text"), "one.jpg")},
                      headers=JSON, content_type="multipart/form-data")
    assert bad.status_code == 415 and bad.get_json()["error"].startswith("unsupported file type")


def _batches(app, n: int, owner: int | None = None) -> list[str]:
    """n batches, oldest first, each with one done and one failed analysis."""
    ids = []
    with app.extensions["db_sessionmaker"]() as s:
        for i in range(n):
            b = Batch(name=f"batch-{i}", total=2, api_key_id=owner, created_at=utcnow() - timedelta(minutes=n - i))
            s.add(b)
            s.flush()
            s.add_all([Analysis(filename=f"{i}-ok.jpg", sha256=f"{i:064x}", media_type="image/jpeg", size_bytes=1,
                                status=Status.DONE, verdict="real", batch_id=b.id, api_key_id=owner),
                       Analysis(filename=f"{i}-bad.jpg", sha256="", media_type="image/jpeg", size_bytes=0,
                                status=Status.FAILED, error="broken", batch_id=b.id, api_key_id=owner)])
            ids.append(b.id)
        s.commit()
    return ids


def test_batch_list_newest_first_paginated_with_counts(client, app):
    ids = _batches(app, 3)
    with app.extensions["db_sessionmaker"]() as s:
        key, token = keys.create(s, "someone")
        s.commit()
        key_id = key.id
    others = _batches(app, 1, owner=key_id)  # an API key's batch: not the local user's
    first = client.get("/batches?per_page=2").get_data(as_text=True)
    assert first.index("batch-2") < first.index("batch-1") and "batch-0" not in first
    assert "Page 1 of 2 (3 batches)" in first and 'href="/batches?page=2&amp;per_page=2"' in first
    assert f'data-batch-id="{ids[2]}"' in first and others[0] not in first
    row = first[first.index(f'data-batch-id="{ids[2]}"'):]
    assert '<span class="done">1</span> done' in row and '<span class="failed">1</span> failed' in row
    assert '<span class="total">2</span> in all' in row
    second = client.get("/batches?page=2&per_page=2").get_data(as_text=True)
    assert "batch-0" in second and "batch-2" not in second
    assert client.get("/batches?page=0").status_code == 400
    # the API's listing: the same order, the caller's own, with totals for paging
    check = checker(app)
    mine = client.get("/api/v1/batches?per_page=2")
    check(mine, "/api/v1/batches", "get")
    body = mine.get_json()
    assert [b["id"] for b in body["items"]] == [ids[2], ids[1]] and body["total"] == 3 and body["pages"] == 2
    assert body["items"][0]["counts"] == {"queued": 0, "running": 0, "done": 1, "failed": 1}
    theirs = client.get("/api/v1/batches", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert [b["id"] for b in theirs["items"]] == others and theirs["total"] == 1


def test_no_batches_yet(client):
    html = client.get("/batches").get_data(as_text=True)
    assert 'id="no-batches"' in html


@pytest.mark.parametrize("url", ["/batches/nope", "/batches/nope/status", "/batches/nope/results"])
def test_unknown_batch_is_404(client, url):
    assert client.get(url).status_code == 404
