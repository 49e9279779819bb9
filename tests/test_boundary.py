"""Issue 11 item 4: NUL bytes and over-long values are a precise 400 before anything is written, on both databases,
and an upload refused for any reason leaves no file behind."""
from __future__ import annotations

import io

import pytest

from shared.models import Batch
from tests.conftest import make_jpeg, make_png

ID = "00000000-0000-0000-0000-000000000000"
API_REQUESTS = [  # every API request kind, with a NUL where a value reaches the database
    ("get", "/api/v1/analyses/%00"),
    ("get", "/api/v1/analyses/ab%00cd?private=true"),
    ("get", "/api/v1/analyses/%00/files/ela.png"),
    ("get", f"/api/v1/analyses/{ID}/files/ela%00.png"),
    ("delete", "/api/v1/analyses/%00"),
    ("get", "/api/v1/analyses?filename=a%00b"),
    ("get", "/api/v1/analyses?batch=%00"),
    ("get", "/api/v1/analyses?verdict=fake&filename=%00"),
    ("get", "/api/v1/batches?page=1%00"),
    ("get", "/api/v1/batches/%00"),
    ("get", "/api/v1/batches/%00/results?format=csv"),
    ("get", f"/api/v1/batches/{ID}/results?format=csv%00"),
    ("delete", "/api/v1/batches/%00"),
]
PAGES = ["/analyses/%00", "/analyses/%00/metadata", "/batches/%00", "/history?filename=%00", "/history?batch=x%00",
         "/analyses/%00/files/thumbnail.jpg"]


def files_in(app) -> set[str]:
    return {str(p) for p in app.config["SETTINGS"].upload_dir.rglob("*") if p.is_file()}


@pytest.mark.parametrize("method,url", API_REQUESTS)
def test_nul_in_an_api_id_or_filter_is_a_precise_400(client, method, url):
    resp = getattr(client, method)(url)
    assert resp.status_code == 400, resp.get_data(as_text=True)[:300]
    assert "NUL" in resp.get_json()["error"]


@pytest.mark.parametrize("url", PAGES)
def test_nul_in_a_page_id_or_filter_is_a_precise_400(client, url):
    resp = client.get(url)
    assert resp.status_code == 400
    assert "NUL" in resp.get_data(as_text=True)


def post_batch(client, headers=None, **form):
    data = {"files": [(io.BytesIO(make_jpeg(color=(9, 99, 199))), "a.jpg")], **form}
    return client.post("/api/v1/batches", data=data, headers=headers or {}, content_type="multipart/form-data")


@pytest.mark.parametrize("form,headers,word", [
    ({"name": "my\x00batch"}, {}, "name"),
    ({"callback_url": "http://example.com/\x00hook"}, {}, "callback_url"),
    ({}, {"Idempotency-Key": "k" * 201}, "Idempotency-Key"),
    ({}, {"Idempotency-Key": "k\x00"}, "Idempotency-Key"),
])
def test_bad_batch_fields_are_400_and_write_nothing(client, app, form, headers, word):
    before = files_in(app)
    resp = post_batch(client, headers, **form)
    assert resp.status_code == 400, resp.get_json()
    assert word in resp.get_json()["error"]
    assert files_in(app) == before
    with app.extensions["db_sessionmaker"]() as s:
        assert s.query(Batch).count() == 0


def test_idempotency_key_of_the_column_length_is_accepted(client):
    assert post_batch(client, {"Idempotency-Key": "k" * 200}).status_code == 202


def test_nul_in_a_single_upload_callback_is_400_and_writes_nothing(client, app):
    before = files_in(app)
    resp = client.post("/api/v1/analyses", data={"file": (io.BytesIO(make_jpeg()), "a.jpg"),
                                                 "callback_url": "https://example.com/\x00"},
                       content_type="multipart/form-data")
    assert resp.status_code == 400 and "callback_url" in resp.get_json()["error"]
    assert files_in(app) == before


@pytest.fixture
def small_app(overrides):
    from web import create_app

    app = create_app(overrides | {"max_upload_mb": 1, "max_batch_files": 2})
    app.config["TESTING"] = True
    yield app
    app.extensions["db_engine"].dispose()


def big_png() -> bytes:
    return make_png() + b"\0" * (1024 * 1024 + 10)


def test_refused_uploads_leave_no_file_behind(small_app):
    client, app = small_app.test_client(), small_app
    single = lambda data, name="a.jpg": client.post(  # noqa: E731
        "/api/v1/analyses", data={"file": (io.BytesIO(data), name)}, content_type="multipart/form-data")
    batch = lambda pairs, **kw: client.post(  # noqa: E731
        "/api/v1/batches", data={"files": [(io.BytesIO(d), n) for d, n in pairs]}, content_type="multipart/form-data",
        **kw)
    assert batch([(make_jpeg(), "kept.jpg")], headers={"Idempotency-Key": "once"}).status_code == 202
    before = files_in(app)
    refused = [
        single(b""),  # 400 empty
        single(b"not an image at all"),  # 415
        single(b"\x89PNG\r\n\x1a\n" + b"\0" * 64),  # 415 after storing: a PNG signature with no image
        single(big_png()),  # 413 while streaming
        batch([(make_jpeg(color=(1, 2, 3)), "x.jpg")], headers={"Idempotency-Key": "once"}),  # 409 other body
        batch([(make_jpeg(color=(4, 5, 6)), f"{i}.jpg") for i in range(1)] +
              [(make_jpeg(color=(7, 8, i)), f"{i}.jpg") for i in range(3)]),  # 413 too many files
        batch([(make_jpeg(color=(11, 12, 13)), "n.jpg")], headers={"Idempotency-Key": "x" * 300}),  # 400
    ]
    assert [r.status_code for r in refused] == [400, 415, 415, 413, 409, 413, 400], [r.get_json() for r in refused]
    assert files_in(app) == before
