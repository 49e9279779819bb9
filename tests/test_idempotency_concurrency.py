"""Issue 11 item 6: an Idempotency-Key holds for the keyless user too, under concurrent identical requests."""
from __future__ import annotations

import threading

import pytest
import requests
from sqlalchemy import func, select

from shared.models import Batch
from tests.conftest import make_jpeg
from tests.live import WebServer, app_for, isolated

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("with_key", [False, True], ids=["keyless", "keyed"])
def test_eight_concurrent_identical_batches_make_one(database_url, tmp_path, with_key):
    overrides = isolated(tmp_path, "idem", database_url)
    data = make_jpeg(color=(33, 66, 99))
    with app_for(overrides) as app:
        headers = {"Idempotency-Key": "same-job"}
        if with_key:
            from shared import keys

            with app.extensions["db_sessionmaker"]() as s:
                headers["Authorization"] = "Bearer " + keys.create(s, "k")[1]
                s.commit()
        web = WebServer(overrides)
        try:
            start, answers = threading.Barrier(8), []

            def send() -> None:
                start.wait()
                resp = requests.post(web.url + "/api/v1/batches", headers=headers, timeout=60,
                                     files=[("files", ("a.jpg", data, "image/jpeg"))], data={"name": "n"})
                answers.append((resp.status_code, resp.json().get("id")))

            threads = [threading.Thread(target=send) for _ in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        finally:
            web.stop()
        with app.extensions["db_sessionmaker"]() as s:
            batches = s.scalar(select(func.count()).select_from(Batch))
    assert sorted(code for code, _ in answers) == [200] * 7 + [202], answers
    assert len({batch_id for _, batch_id in answers}) == 1 and batches == 1
