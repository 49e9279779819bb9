"""/metrics: counts read at scrape time from the real database and Redis, stage timings from a real worker process."""
from __future__ import annotations

import io
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from shared.models import WebhookDelivery
from tests.conftest import make_jpeg
from tests.live import Worker, app_for, emptied, free_port, isolated, wait_final


def parse(text: str) -> dict[tuple[str, tuple], float]:
    """Every sample of a scrape keyed by (name, sorted labels), parsed by prometheus-client itself."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def scrape(client, **headers) -> dict[tuple[str, tuple], float]:
    resp = client.get("/metrics", headers=headers)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.headers["Content-Type"].startswith("text/plain; version=")
    return parse(resp.get_data(as_text=True))


def upload(client, data: bytes) -> dict:
    resp = client.post("/api/v1/analyses", data={"file": (io.BytesIO(data), "m.jpg")},
                       content_type="multipart/form-data")
    assert resp.status_code == 202, resp.get_json()
    return resp.get_json()


def test_waiting_job_shows_in_queue_depth_and_counts(app, client, overrides):
    """No worker: the upload waits in Redis, and the database counts read at scrape time see it."""
    queue = overrides["queue"]
    before = scrape(client)
    assert before[("deepfake_queue_depth", (("queue", queue),))] == 0
    assert before[("deepfake_analyses", (("status", "queued"),))] == 0
    assert before[("deepfake_workers_alive", (("queue", queue),))] == 0
    upload(client, make_jpeg())
    with app.extensions["db_sessionmaker"]() as session:  # as the worker records a failed attempt
        session.add(WebhookDelivery(url="http://127.0.0.1:9/hook", attempt=1, error="refused", succeeded=False))
        session.commit()
    after = scrape(client)
    assert after[("deepfake_queue_depth", (("queue", queue),))] == 1
    assert after[("deepfake_analyses", (("status", "queued"),))] == 1
    assert after[("deepfake_webhook_deliveries", (("outcome", "failed"),))] == 1
    assert after[("deepfake_webhook_deliveries", (("outcome", "succeeded"),))] == 0
    assert after[("deepfake_metrics_source_up", (("source", "database"),))] == 1
    assert after[("deepfake_metrics_source_up", (("source", "redis"),))] == 1


def test_redis_down_reads_as_a_source_down_not_a_500(overrides):
    from web import create_app

    app = create_app(overrides | {"redis_url": f"redis://127.0.0.1:{free_port()}/0"})  # nothing listens there
    samples = scrape(app.test_client())
    app.extensions["db_engine"].dispose()
    assert samples[("deepfake_metrics_source_up", (("source", "redis"),))] == 0
    assert samples[("deepfake_metrics_source_up", (("source", "database"),))] == 1
    assert not any(name == "deepfake_queue_depth" for name, _ in samples)


def test_metrics_token_is_required_when_set(overrides):
    with app_for(overrides | {"metrics_token": "s3cret-token"}) as app:
        client = app.test_client()
        for header in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret-token"}):
            resp = client.get("/metrics", headers=header)
            assert resp.status_code == 401 and resp.headers["WWW-Authenticate"].startswith("Bearer")
        assert ("deepfake_analyses", (("status", "done"),)) in scrape(client, Authorization="Bearer s3cret-token")


def test_recording_timings_never_raises_into_the_task(caplog):
    """The hook runs after the verdict is committed: a bad value is logged, and the good ones still count."""
    from shared.metrics import STAGE_SECONDS, observe_stage_timings

    before = STAGE_SECONDS.labels(stage="unit").collect()[0]
    count = next(s.value for s in before.samples if s.name.endswith("_count"))
    observe_stage_timings([{"unit_s": 0.5}, {"unit_s": "not a number"}])
    after = STAGE_SECONDS.labels(stage="unit").collect()[0]
    assert next(s.value for s in after.samples if s.name.endswith("_count")) == count + 1
    assert "stage timings not recorded" in caplog.text


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def stack(request, tmp_path_factory):
    """One worker process writing its metrics where the app reads them, as `make run` and Compose set it up."""
    url = emptied(request.getfixturevalue("postgres_url")) if request.param == "postgres" else None
    tmp = tmp_path_factory.mktemp("metrics")
    overrides = isolated(tmp, "metrics", url, metrics_dir=tmp / "prometheus")
    with app_for(overrides) as app:
        worker = Worker(overrides, env={"PROMETHEUS_MULTIPROC_DIR": str(tmp / "prometheus")}).wait_ready()
        yield app, worker, overrides
        worker.stop()


@pytest.mark.slow
def test_an_analysis_moves_the_numbers(stack):
    app, worker, overrides = stack
    client, queue = app.test_client(), overrides["queue"]
    alive = ("deepfake_workers_alive", (("queue", queue),))
    deadline = time.monotonic() + 30  # the heartbeat is written once the worker's main process is ready
    while (before := scrape(client))[alive] < 1:
        assert time.monotonic() < deadline, "no live worker in /metrics:\n" + "".join(worker.log)[-3000:]
        time.sleep(0.3)
    assert before[alive] == 1
    assert before[("deepfake_queue_depth", (("queue", queue),))] == 0

    sub = upload(client, make_jpeg((160, 120), color=(90, 60, 30)))
    body = wait_final(lambda url: client.get(url).get_json(), sub["status_url"])
    assert body["status"] == "done", body.get("error") or "".join(worker.log)[-3000:]
    after = scrape(client)

    def moved(key: tuple) -> float:
        return after.get(key, 0) - before.get(key, 0)

    assert moved(("deepfake_analyses", (("status", "done"),))) == 1
    stages = [k.removesuffix("_s") for k in body["result"]["timings"]]
    assert "total" in stages and "decode" in stages
    for stage in stages:  # observed by the pool process, merged from its multiprocess file by this process
        assert moved(("deepfake_pipeline_stage_seconds_count", (("stage", stage),))) == 1, stage
    assert after[("deepfake_pipeline_stage_seconds_sum", (("stage", "total"),))] >= body["result"]["timings"]["total_s"]
    assert after[("deepfake_queue_depth", (("queue", queue),))] == 0
    assert after[alive] == 1
