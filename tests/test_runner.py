"""The runner's claim: leases, attempts, pipeline runs and where an earlier result may be reused from."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from shared import keys
from shared.models import Analysis, Batch, Status, utcnow
from worker import runner

SHA = "ef" * 32


def _key(app) -> tuple[int, str]:
    with app.extensions["db_sessionmaker"]() as s:
        key, token = keys.create(s, "k")
        s.commit()
        return key.id, token


def _add(app, **fields) -> str:
    a = Analysis(filename="x.jpg", sha256=fields.pop("sha256", SHA), media_type="image/jpeg", size_bytes=1, **fields)
    with app.extensions["db_sessionmaker"]() as s:
        s.add(a)
        s.commit()
    return a.id


def _done(app, **fields) -> str:
    return _add(app, status=Status.DONE, verdict="real", model_version="m1", finished_at=utcnow(),
                result={"verdict": "real", "maps": []}, **fields)


def _claim(app, ids, owner="w1"):
    with app.extensions["db_sessionmaker"]() as s:
        todo, finished = runner.claim(s, ids, owner, app.config["SETTINGS"], "m1")
        return [a.id for a in todo], {f.id: f.status for f in finished}


def _get(app, analysis_id) -> Analysis:
    with app.extensions["db_sessionmaker"]() as s:
        return s.get(Analysis, analysis_id)


def test_reuse_stays_inside_one_owner_and_skips_purged_sources(app):
    key_a, _ = _key(app)
    key_b, _ = _key(app)
    a1 = _done(app, api_key_id=key_a)
    b1 = _add(app, api_key_id=key_b)
    anonymous = _add(app)
    assert sorted(_claim(app, [b1, anonymous])[0]) == sorted([b1, anonymous])  # another owner's: run again
    assert _get(app, b1).reused_from is None and _get(app, b1).pipeline_runs == 1
    a2 = _add(app, api_key_id=key_a)
    assert _claim(app, [a2]) == ([], {a2: Status.DONE})
    assert _get(app, a2).reused_from == a1 and _get(app, a2).pipeline_runs == 0
    with app.extensions["db_sessionmaker"]() as s:  # retention removed a1's and a2's maps
        s.execute(update(Analysis).where(Analysis.id.in_([a1, a2])).values(purged_at=utcnow()))
        s.commit()
    a3 = _add(app, api_key_id=key_a)
    assert _claim(app, [a3])[0] == [a3] and _get(app, a3).reused_from is None


def test_a_lease_taken_over_three_times_fails_the_file(app):
    analysis_id = _add(app, status=Status.RUNNING, attempts=3, lease_owner="dead",
                       lease_expires_at=utcnow() - timedelta(seconds=5))
    assert _claim(app, [analysis_id]) == ([], {analysis_id: Status.FAILED})
    a = _get(app, analysis_id)
    assert a.error == "the worker stopped 3 times while analysing this file" and a.pipeline_runs == 0


def test_deleting_an_analysis_clears_links_to_it_and_shrinks_its_batch(app, client):
    with app.extensions["db_sessionmaker"]() as s:
        batch = Batch(total=2)
        s.add(batch)
        s.commit()
    source = _done(app, batch_id=batch.id)
    copy = _done(app, batch_id=batch.id, reused_from=source)
    assert client.delete(f"/api/v1/analyses/{source}").status_code in (200, 204)
    assert _get(app, copy).reused_from is None
    body = client.get(f"/api/v1/batches/{batch.id}").get_json()
    assert (body["total"], body["progress"]) == (1, 1.0)
