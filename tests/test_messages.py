"""Messages for people: refusals in words, the same words from the web and the command line, listings that
count and page in English, a review form that claims nothing before the reviewer chooses, and a favicon."""
from __future__ import annotations

import io

import pytest

from shared import images
from shared.models import Analysis, Status
from tests.conftest import make_jpeg
from tests.test_pages import csrf_token
from worker.errors import AnalysisError
from worker.pipeline import _prepare


def upload(client, body: bytes, name: str = "x.jpg"):
    return client.post("/analyses", data={"csrf_token": csrf_token(client), "file": (io.BytesIO(body), name)},
                       content_type="multipart/form-data", headers={"Accept": "application/json"})


def test_an_unreadable_image_is_refused_in_words_without_an_exception_name(client):
    resp = upload(client, make_jpeg()[:40])  # the JPEG signature, then nothing Pillow can read
    assert resp.status_code == 415 and resp.get_json()["error"] == images.UNREADABLE
    assert "Error" not in resp.get_json()["error"]


def test_the_web_and_the_command_line_say_the_same_of_an_empty_file_and_of_a_non_image(client, tmp_path):
    assert upload(client, b"").get_json()["error"] == images.EMPTY
    assert upload(client, b"just some text, not a picture").get_json()["error"] == images.NOT_ACCEPTED
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "notes.jpg").write_bytes(b"just some text, not a picture")
    for name, words in (("empty.jpg", images.EMPTY), ("notes.jpg", images.NOT_ACCEPTED)):
        with pytest.raises(AnalysisError) as raised:
            _prepare(tmp_path / name, None, False)  # the CLI's and the worker's first step; it fails before loading
        assert str(raised.value) == words


def _analyses(app, n: int) -> None:
    with app.extensions["db_sessionmaker"]() as s:
        for i in range(n):
            s.add(Analysis(filename=f"img{i}.jpg", sha256=f"{i:064x}", media_type="image/jpeg", size_bytes=1,
                           status=Status.RUNNING))
        s.commit()


def test_history_counts_in_english_and_a_page_past_the_end_says_so(app, client):
    _analyses(app, 1)
    first = client.get("/history").get_data(as_text=True)
    assert "(1 analysis)" in first and "(1 analyses)" not in first
    past = client.get("/history?page=99").get_data(as_text=True)
    assert 'id="past-the-end"' in past and "Page 99 is past the end: 1 analysis, on 1 page." in past
    assert "No analyses yet" not in past and 'href="/history?page=1"' in past


def test_history_sort_menu_names_orders_not_fields(client):
    html = client.get("/history").get_data(as_text=True)
    assert '<option value="-created_at" selected>newest first</option>' in html
    assert ">created_at" not in html and "↓" not in html
    assert client.get("/history?sort=-fake_probability").status_code == 200


def test_the_review_form_is_not_preset_to_a_label(app, client):
    _analyses(app, 1)
    with app.extensions["db_sessionmaker"]() as s:
        aid = s.query(Analysis).first().id
    html = client.get(f"/analyses/{aid}").get_data(as_text=True)
    assert '<option value="" selected disabled>choose a label…</option>' in html
    assert '<option value="real" selected>' not in html


def test_favicon(client):
    html = client.get("/").get_data(as_text=True)
    assert 'rel="icon" href="/static/favicon.svg"' in html
    for url in ("/favicon.ico", "/static/favicon.svg"):
        resp = client.get(url)
        assert resp.status_code == 200 and resp.mimetype == "image/svg+xml", url
