"""Identical single uploads in flight for the same owner share one analysis (one pipeline run), on any number
of web processes: the database's unique index on in-flight uploads decides, on SQLite and PostgreSQL."""
from __future__ import annotations

import io

import pytest
import requests
from sqlalchemy import select

from shared.models import Analysis, Status, utcnow
from tests.conftest import make_jpeg
from tests.live import WebServer, app_for, at_once, isolated, key_header

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("with_key", [False, True], ids=["keyless", "keyed"])
def test_ten_concurrent_identical_uploads_share_one_analysis(database_url, tmp_path, with_key):
    overrides = isolated(tmp_path, "inflight", database_url)
    data = make_jpeg(color=(12, 120, 210))
    with app_for(overrides) as app:
        headers = key_header(app) if with_key else {}
        web = WebServer(overrides, workers=2)  # two web processes, four threads each

        def send(i: int) -> tuple[int, str | None]:
            resp = requests.post(web.url + "/api/v1/analyses", headers=headers, timeout=60,
                                 files={"file": (f"copy{i}.jpg", data, "image/jpeg")})
            return resp.status_code, resp.json().get("id")

        try:
            answers = at_once(10, send)
        finally:
            web.stop()
        with app.extensions["db_sessionmaker"]() as s:
            rows = list(s.scalars(select(Analysis)))
    assert [code for code, _ in answers] == [202] * 10, answers
    assert len({analysis_id for _, analysis_id in answers}) == 1 and len(rows) == 1, (answers, rows)


def test_only_the_same_owner_callback_and_unfinished_upload_is_shared(overrides):
    with app_for(overrides | {"webhook_allow_private": True}) as app:
        _only_the_same_upload_is_shared(app, app.test_client())


def _only_the_same_upload_is_shared(app, client) -> None:
    data = make_jpeg(color=(200, 120, 10))
    other_key = key_header(app, "other")

    def upload(headers=None, **form) -> str:
        resp = client.post("/api/v1/analyses", data={"file": (io.BytesIO(data), "a.jpg"), **form},
                           headers=headers or {}, content_type="multipart/form-data")
        assert resp.status_code == 202, resp.get_json()
        return resp.get_json()["id"]

    first = upload()
    assert upload() == first
    assert upload(other_key) != first  # another key's upload is its own
    assert upload(callback_url="http://127.0.0.1:9/hook") != first  # its own webhook: its own analysis
    with app.extensions["db_sessionmaker"]() as s:
        done = s.get(Analysis, first)
        done.status, done.finished_at = Status.DONE, utcnow()
        s.commit()
    assert upload() != first  # finished: a new upload is a new analysis (answered from it by the worker's reuse)
