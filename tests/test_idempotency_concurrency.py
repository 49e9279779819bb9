"""Issue 11 item 6: an Idempotency-Key holds for the keyless user too, under concurrent identical requests."""
from __future__ import annotations

import pytest
import requests
from sqlalchemy import func, select

from shared.models import Batch
from tests.conftest import make_jpeg
from tests.live import WebServer, app_for, at_once, isolated, key_header

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("with_key", [False, True], ids=["keyless", "keyed"])
def test_eight_concurrent_identical_batches_make_one(database_url, tmp_path, with_key):
    overrides = isolated(tmp_path, "idem", database_url)
    data = make_jpeg(color=(33, 66, 99))
    with app_for(overrides) as app:
        headers = {"Idempotency-Key": "same-job"} | (key_header(app) if with_key else {})
        web = WebServer(overrides)

        def send(_: int) -> tuple[int, str | None]:
            resp = requests.post(web.url + "/api/v1/batches", headers=headers, timeout=60, data={"name": "n"},
                                 files=[("files", ("a.jpg", data, "image/jpeg"))])
            return resp.status_code, resp.json().get("id")

        try:
            answers = at_once(8, send)
        finally:
            web.stop()
        with app.extensions["db_sessionmaker"]() as s:
            batches = s.scalar(select(func.count()).select_from(Batch))
    assert sorted(code for code, _ in answers) == [200] * 7 + [202], answers
    assert len({batch_id for _, batch_id in answers}) == 1 and batches == 1
