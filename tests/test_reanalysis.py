"""Re-analysis (issue 13, item 4) through the test client, on SQLite and PostgreSQL, jobs on a real Redis:
linking, the comparison, idempotency, purged and missing files, key isolation, batches, the model-version filter."""
from __future__ import annotations

import base64
import io
import json
import re

import redis
from sqlalchemy import select, update

from shared import storage
from shared.models import Analysis, Batch, Status, utcnow
from tests.conftest import REDIS_URL, make_jpeg
from tests.test_batches_api import auth, make_key
from tests.test_openapi import checker
from tests.test_pages import csrf_token

OLD = "0" * 12 + "old-model"
NEW = "f" * 12 + "new-model"


def upload(client, color=(200, 30, 30), headers=None) -> str:
    """A real upload (its file stored), still queued: no worker runs in these tests."""
    resp = client.post("/api/v1/analyses", data={"file": (io.BytesIO(make_jpeg(color=color)), "cat.jpg")},
                       headers=headers or {}, content_type="multipart/form-data")
    assert resp.status_code == 202, resp.get_json()
    return resp.get_json()["id"]


def result(verdict, p, detectors, evidence) -> dict:
    return {"verdict": verdict, "fake_probability": p, "reasons": [f"called {verdict}"], "evidence": evidence,
            "thresholds": {"model_fake": 0.9, "model_real": 0.1}, "maps": [],
            "detectors": [{"name": n, "version": v, "fake_probability": q, "weight": 1.0} for n, v, q in detectors]}


def ev(kind, source, value, effect, reason, **extra) -> dict:
    return {"kind": kind, "source": source, "value": value, "effect": effect, "reason": reason, **extra}


BEFORE = result("fake", 0.95, [("content", "a" * 64, 0.95)], [
    ev("model", "detector content aaaaaaaaaaaa", 0.95, "neutral", "content detector: 95%", detector="content"),
    ev("model", "ensemble " + OLD[:12], 0.95, "fake", "the detectors combined give 95%"),
    ev("metadata_score", "EXIF:Make", "Canon", "real", "a camera make"),
    ev("generator_metadata", "XMP:CreatorTool", "Midjourney", "fake", "a generator's name", strong=True),
    ev("forensic_map", "ela", "Error level", "neutral", "a map"),
])
AFTER = result("real", 0.05, [("content", "b" * 64, 0.04), ("lowlevel", "c" * 64, 0.2)], [
    ev("model", "detector content bbbbbbbbbbbb", 0.04, "neutral", "content detector: 4%", detector="content"),
    ev("model", "detector lowlevel cccccccccccc", 0.2, "neutral", "lowlevel detector: 20%", detector="lowlevel"),
    ev("model", "ensemble " + NEW[:12], 0.05, "real", "the detectors combined give only 5%"),
    ev("metadata_score", "EXIF:Make", "Canon", "real", "a camera make"),
])


def finish(app, analysis_id, version=OLD, res=BEFORE, **fields) -> None:
    """Write a finished result, as a worker of model `version` would (test data: no model runs here)."""
    values = {"status": Status.DONE, "finished_at": utcnow(), "verdict": res["verdict"],
              "fake_probability": res["fake_probability"], "metadata_score": 0.5, "model_version": version,
              "result": res} | fields
    with app.extensions["db_sessionmaker"]() as s:
        s.execute(update(Analysis).where(Analysis.id == analysis_id).values(**values))
        s.commit()


def rows(app, **where) -> list[Analysis]:
    with app.extensions["db_sessionmaker"]() as s:
        return list(s.scalars(select(Analysis).filter_by(**where).order_by(Analysis.created_at)))


def queued_ids(queue: str) -> list[str]:
    """The analysis ids of the jobs waiting on a real Redis queue, one entry per time each was sent."""
    out = []
    for raw in redis.Redis.from_url(REDIS_URL).lrange(queue, 0, -1):
        args = json.loads(base64.b64decode(json.loads(raw)["body"]))[0]
        out.extend(args[0] if isinstance(args[0], list) else args)
    return out


def reanalyse(client, analysis_id, headers=None):
    return client.post(f"/api/v1/analyses/{analysis_id}/reanalyse", headers=headers or {})


def test_a_reanalysis_is_a_new_analysis_linked_to_the_old_one(app, client, queue_name):
    check = checker(app)
    old = upload(client)
    finish(app, old)
    redis.Redis.from_url(REDIS_URL).delete(queue_name)
    first = reanalyse(client, old)
    check(first, "/api/v1/analyses/{analysis_id}/reanalyse", "post")
    assert first.status_code == 202, first.get_json()
    new = first.get_json()
    assert new["reanalysis_of"] == old and new["id"] != old and new["status"] == "queued"
    assert first.headers["Location"] == f"/api/v1/analyses/{new['id']}"
    assert queued_ids(queue_name) == [new["id"]]  # a person is waiting: the interactive queue
    # a double click or a retried request while it is unfinished gets the same re-analysis, not a second
    again = reanalyse(client, old)
    check(again, "/api/v1/analyses/{analysis_id}/reanalyse", "post")
    assert again.status_code == 200 and again.get_json()["id"] == new["id"]
    assert again.headers["Idempotent-Replayed"] == "true" and queued_ids(queue_name) == [new["id"]]
    body = client.get(f"/api/v1/analyses/{old}").get_json()
    assert [r["id"] for r in body["reanalysed_by"]] == [new["id"]] and body["reanalysis_of"] is None
    detail = client.get(f"/api/v1/analyses/{new['id']}")
    check(detail, "/api/v1/analyses/{analysis_id}", "get")
    assert detail.get_json()["comparison_url"] == f"/analyses/{new['id']}/comparison"  # the keyless user: pages
    assert [a.sha256 for a in rows(app)] == [new["sha256"]] * 2  # the same stored file, not a copy


def test_the_comparison_says_what_changed(app, client):
    check = checker(app)
    old = upload(client)
    finish(app, old)
    new = reanalyse(client, old).get_json()["id"]
    pending = client.get(f"/api/v1/analyses/{new}/comparison")
    check(pending, "/api/v1/analyses/{analysis_id}/comparison", "get")
    assert pending.get_json()["state"] == "queued" and pending.get_json()["changes"] is None
    finish(app, new, NEW, AFTER)
    resp = client.get(f"/api/v1/analyses/{new}/comparison")
    check(resp, "/api/v1/analyses/{analysis_id}/comparison", "get")
    body = resp.get_json()
    assert (body["old"]["verdict"], body["new"]["verdict"]) == ("fake", "real")
    assert body["changes"]["verdict"] == {"old": "fake", "new": "real", "changed": True}
    assert body["changes"]["model_version"]["changed"] is True
    assert round(body["changes"]["fake_probability"]["delta"], 6) == -0.9
    assert body["changes"]["metadata_score"] == {"old": 0.5, "new": 0.5, "changed": False, "delta": 0.0}
    detectors = {d["name"]: d for d in body["detectors"]}
    assert round(detectors["content"]["delta"], 6) == -0.91 and detectors["content"]["new_version"] == "b" * 64
    assert detectors["lowlevel"]["old"] is None and detectors["lowlevel"]["new"] == 0.2
    evidence = body["evidence"]
    assert [e["source"] for e in evidence["added"]] == ["detector lowlevel cccccccccccc"]
    assert [e["kind"] for e in evidence["removed"]] == ["generator_metadata"]  # the map is not a signal
    changed = {c["source"]: c["fields"] for c in evidence["changed"]}
    assert changed == {"detector content bbbbbbbbbbbb": ["value", "reason"],
                       "ensemble " + NEW[:12]: ["effect", "value", "reason"]}
    assert evidence["unchanged"] == 1  # the camera make
    assert client.get(f"/analyses/{new}/comparison").get_json() == body  # the result page's copy
    assert client.get(f"/api/v1/analyses/{old}/comparison").status_code == 404  # not a re-analysis
    check(client.get(f"/api/v1/analyses/{old}/comparison"), "/api/v1/analyses/{analysis_id}/comparison", "get")


def test_an_idempotency_key_finds_its_reanalysis_even_after_it_finished(app, client):
    old, other = upload(client), upload(client, color=(1, 2, 3))
    finish(app, old)
    finish(app, other)
    first = reanalyse(client, old, {"Idempotency-Key": "k1"})
    assert first.status_code == 202
    finish(app, first.get_json()["id"], NEW, AFTER)
    replay = reanalyse(client, old, {"Idempotency-Key": "k1"})
    assert replay.status_code == 200 and replay.get_json()["id"] == first.get_json()["id"]
    assert replay.get_json()["status"] == "done"
    assert reanalyse(client, other, {"Idempotency-Key": "k1"}).status_code == 409  # the key meant another request
    fresh = reanalyse(client, old)  # no key, the earlier one finished: asked for again, so run again
    assert fresh.status_code == 202 and fresh.get_json()["id"] != first.get_json()["id"]
    assert reanalyse(client, old, {"Idempotency-Key": "x" * 201}).status_code == 400
    assert len(rows(app, reanalysis_of=old)) == 2


def test_what_cannot_be_reanalysed_gets_a_precise_answer(app, client):
    check = checker(app)
    queued, purged, gone = upload(client), upload(client, (1, 1, 1)), upload(client, (2, 2, 2))
    resp = reanalyse(client, queued)
    check(resp, "/api/v1/analyses/{analysis_id}/reanalyse", "post")
    assert resp.status_code == 409 and "queued" in resp.get_json()["error"]
    finish(app, purged, purged_at=utcnow())
    resp = reanalyse(client, purged)
    check(resp, "/api/v1/analyses/{analysis_id}/reanalyse", "post")
    assert resp.status_code == 410 and "was purged on" in resp.get_json()["error"]
    finish(app, gone)
    storage.path_for(app.config["SETTINGS"].upload_dir, rows(app, id=gone)[0].sha256).unlink()
    resp = reanalyse(client, gone)
    assert resp.status_code == 410 and "no longer stored" in resp.get_json()["error"]
    refused = client.post("/api/v1/batches", data={"files": [(io.BytesIO(b"text"), "notes.txt")]},
                          content_type="multipart/form-data").get_json()
    item = client.get(refused["status_url"]).get_json()["items"][0]["id"]
    resp = reanalyse(client, item)
    assert resp.status_code == 409 and "has no stored image to analyse again (unsupported file type" in \
        resp.get_json()["error"]
    assert reanalyse(client, "no-such-id").status_code == 404
    assert [a.id for a in rows(app) if a.reanalysis_of] == []  # nothing was made


def test_a_key_reanalyses_and_compares_only_its_own_analyses(app, client):
    _, token_a = make_key(app, "a")
    _, token_b = make_key(app, "b")
    old = upload(client, headers=auth(token_a))
    finish(app, old)
    for headers in (auth(token_b), {}):  # another key, and the keyless user, do not own it
        assert reanalyse(client, old, headers).status_code == 404
    new = reanalyse(client, old, auth(token_a))
    assert new.status_code == 202
    new_id = new.get_json()["id"]
    assert rows(app, id=new_id)[0].api_key_id == rows(app, id=old)[0].api_key_id  # the owner's, as the old one
    assert client.get(f"/api/v1/analyses/{new_id}", headers=auth(token_a)).get_json()["comparison_url"] == \
        f"/api/v1/analyses/{new_id}/comparison"
    assert client.get(f"/api/v1/analyses/{new_id}/comparison", headers=auth(token_a)).status_code == 200
    assert client.get(f"/api/v1/analyses/{new_id}/comparison", headers=auth(token_b)).status_code == 404
    assert client.get(f"/analyses/{new_id}/comparison").status_code == 404  # nor the pages' keyless user
    assert client.get("/api/v1/analyses", headers=auth(token_b)).get_json()["total"] == 0
    # an Idempotency-Key is the caller's own: the same string from another key is another request
    mine = upload(client, (5, 5, 5), headers=auth(token_b))
    finish(app, mine)
    assert reanalyse(client, old, {"Idempotency-Key": "same"} | auth(token_a)).status_code in (200, 202)
    assert reanalyse(client, mine, {"Idempotency-Key": "same"} | auth(token_b)).status_code == 202


def test_a_batch_is_reanalysed_as_a_new_batch_on_the_bulk_queue(app, client, queue_name):
    check = checker(app)
    made = client.post("/api/v1/batches", content_type="multipart/form-data", data={"name": "sources", "files": [
        (io.BytesIO(make_jpeg(color=(9, 9, 9))), "a.jpg"), (io.BytesIO(make_jpeg(color=(8, 8, 8))), "b.jpg"),
        (io.BytesIO(make_jpeg(color=(7, 7, 7))), "c.jpg"), (io.BytesIO(b"text"), "notes.txt")]}).get_json()
    resp = client.post(f"/api/v1/batches/{made['id']}/reanalyse")
    check(resp, "/api/v1/batches/{batch_id}/reanalyse", "post")
    assert resp.status_code == 409 and "still running" in resp.get_json()["error"]
    items = {a.filename: a.id for a in rows(app, batch_id=made["id"])}
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        finish(app, items[name], purged_at=utcnow() if name == "c.jpg" else None)
    with app.extensions["db_sessionmaker"]() as s:
        s.execute(update(Batch).where(Batch.id == made["id"]).values(finished_at=utcnow()))
        s.commit()
    redis.Redis.from_url(REDIS_URL).delete(queue_name + "-bulk")
    resp = client.post(f"/api/v1/batches/{made['id']}/reanalyse")
    check(resp, "/api/v1/batches/{batch_id}/reanalyse", "post")
    assert resp.status_code == 202, resp.get_json()
    new = resp.get_json()
    assert new["name"] == "Re-analysis of sources" and new["total"] == 4
    assert new["counts"] == {"queued": 2, "running": 0, "done": 0, "failed": 2}
    again = client.post(f"/api/v1/batches/{made['id']}/reanalyse")  # a double click: the same batch
    assert again.status_code == 200 and again.get_json()["id"] == new["id"]
    copies = {a.filename: a for a in rows(app, batch_id=new["id"])}
    assert {n: a.reanalysis_of for n, a in copies.items()} == {n: items[n] for n in copies}
    assert "was purged on" in copies["c.jpg"].error and "no stored image" in copies["notes.txt"].error
    assert sorted(queued_ids(queue_name + "-bulk")) == sorted([copies["a.jpg"].id, copies["b.jpg"].id])
    assert redis.Redis.from_url(REDIS_URL).llen(queue_name) == 0
    with app.extensions["db_sessionmaker"]() as s:
        assert s.get(Batch, new["id"]).reanalysis_of == made["id"]
    exported = {r["filename"]: r["reanalysis_of"] for r in client.get(new["results_url"] + "?format=json").get_json()}
    assert exported == {n: items[n] for n in copies}  # its download names what each row re-ran
    # its page says what it re-ran, the old one's page links to it
    assert f'href="/batches/{made["id"]}"' in client.get(new["page_url"]).get_data(as_text=True)
    assert f'href="/batches/{new["id"]}"' in client.get(made["page_url"]).get_data(as_text=True)


def test_a_batch_whose_files_are_all_purged_is_a_410(app, client):
    made = client.post("/api/v1/batches", content_type="multipart/form-data",
                       data={"files": [(io.BytesIO(make_jpeg()), "a.jpg")]}).get_json()
    finish(app, rows(app, batch_id=made["id"])[0].id, purged_at=utcnow())
    with app.extensions["db_sessionmaker"]() as s:
        s.execute(update(Batch).where(Batch.id == made["id"]).values(finished_at=utcnow()))
        s.commit()
    resp = client.post(f"/api/v1/batches/{made['id']}/reanalyse")
    assert resp.status_code == 410 and "none of the 1 analyses" in resp.get_json()["error"]
    _, token = make_key(app, "other")
    assert client.post(f"/api/v1/batches/{made['id']}/reanalyse", headers=auth(token)).status_code == 404
    assert len(rows(app)) == 1


def test_history_shows_and_filters_by_model_version(app, client):
    check = checker(app)
    old, new, other = upload(client), upload(client, (1, 1, 1)), upload(client, (2, 2, 2))
    finish(app, old)
    finish(app, new, NEW, AFTER)
    finish(app, other, "ab%_" + "0" * 20)

    def ids(query):
        resp = client.get(f"/api/v1/analyses?{query}")
        check(resp, "/api/v1/analyses", "get")
        return sorted(i["id"] for i in resp.get_json()["items"])

    assert ids(f"model_version={OLD}") == [old]
    assert ids(f"model_version={NEW[:12]}") == [new]  # the first characters, as the pages show them
    assert ids("model_version=ab%25_") == [other]  # wildcards are literal characters
    assert ids("model_version=a%25") == []
    assert client.get("/api/v1/analyses?model_version=" + "x" * 65).status_code == 400
    listed = {i["id"]: i["model_version"] for i in client.get("/api/v1/analyses").get_json()["items"]}
    assert listed[old] == OLD
    html = client.get(f"/history?model_version={NEW}").get_data(as_text=True)
    assert f"<code title=\"{NEW}\">{NEW[:12]}</code>" in html and OLD[:12] + "</code>" not in html
    assert f'<option value="{OLD}">model {OLD[:12]} (1)</option>' in html


def test_the_pages_reanalyse_with_a_button_and_compare(app, client):
    old = upload(client)
    finish(app, old)
    html = client.get(f"/analyses/{old}").get_data(as_text=True)
    assert f'action="/analyses/{old}/reanalyse"' in html and re.search(r'id="reanalyse-form"[^>]*"\s*>', html)
    token = csrf_token(client)
    assert client.post(f"/analyses/{old}/reanalyse").status_code == 400  # no CSRF token
    first = client.post(f"/analyses/{old}/reanalyse", data={"csrf_token": token})
    second = client.post(f"/analyses/{old}/reanalyse", data={"csrf_token": token})  # a double click
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    new = first.headers["Location"].rsplit("/", 1)[-1]
    assert [a.id for a in rows(app, reanalysis_of=old)] == [new]
    page = client.get(first.headers["Location"]).get_data(as_text=True)
    assert f'data-comparison-url="/analyses/{new}/comparison"' in page and f'href="/analyses/{old}"' in page
    assert re.search(r'id="reanalyse-form"[^>]* hidden>', page)  # shown by the script once the verdict is in
    assert f'href="/analyses/{new}"' in client.get(f"/analyses/{old}").get_data(as_text=True)
    finish(app, new, NEW, AFTER)
    finish(app, old, purged_at=utcnow())
    purged = client.get(f"/analyses/{old}").get_data(as_text=True)
    assert 'id="reanalyse-form"' not in purged and "Cannot be re-analysed: the image of analysis" in purged
    refused = client.post(f"/analyses/{old}/reanalyse", data={"csrf_token": token})
    assert refused.status_code == 410 and "was purged on" in refused.get_data(as_text=True)


def test_deleting_the_old_analysis_or_batch_clears_the_links(app, client):
    old = upload(client)
    finish(app, old)
    new = reanalyse(client, old).get_json()["id"]
    assert client.delete(f"/api/v1/analyses/{old}").status_code == 204
    assert rows(app, id=new)[0].reanalysis_of is None
    assert client.get(f"/api/v1/analyses/{new}/comparison").status_code == 404
    made = client.post("/api/v1/batches", content_type="multipart/form-data",
                       data={"files": [(io.BytesIO(make_jpeg()), "a.jpg")]}).get_json()
    finish(app, rows(app, batch_id=made["id"])[0].id)
    with app.extensions["db_sessionmaker"]() as s:
        s.execute(update(Batch).where(Batch.id == made["id"]).values(finished_at=utcnow()))
        s.commit()
    again = client.post(f"/api/v1/batches/{made['id']}/reanalyse").get_json()
    assert client.delete(f"/api/v1/batches/{made['id']}").status_code == 204
    with app.extensions["db_sessionmaker"]() as s:
        assert s.get(Batch, again["id"]).reanalysis_of is None
    assert client.get(again["status_url"]).status_code == 200


def test_the_worker_runs_a_reanalysis_instead_of_reusing_the_earlier_result(app, client):
    """The same file by the same model is normally answered from the database; a re-analysis is run again."""
    from worker import runner

    old = upload(client)
    finish(app, old)
    repeat = upload(client)  # the same file again: answered from `old`
    new = reanalyse(client, old).get_json()["id"]
    with app.extensions["db_sessionmaker"]() as s:
        todo, finished = runner.claim(s, [repeat, new], "w1", app.config["SETTINGS"], OLD)
    assert [a.id for a in todo] == [new] and [f.id for f in finished] == [repeat]
    assert rows(app, id=repeat)[0].reused_from == old and rows(app, id=new)[0].pipeline_runs == 1


def test_concurrent_identical_requests_make_one_reanalysis(app, client):
    """Eight clicks at once (threads through the app, each its own request and session): one re-analysis."""
    import threading

    old = upload(client)
    finish(app, old)
    made = client.post("/api/v1/batches", content_type="multipart/form-data",
                       data={"files": [(io.BytesIO(make_jpeg(color=(4, 4, 4))), "a.jpg")]}).get_json()
    finish(app, rows(app, batch_id=made["id"])[0].id)
    with app.extensions["db_sessionmaker"]() as s:
        s.execute(update(Batch).where(Batch.id == made["id"]).values(finished_at=utcnow()))
        s.commit()
    for path in (f"/api/v1/analyses/{old}/reanalyse", f"/api/v1/batches/{made['id']}/reanalyse"):
        start, answers = threading.Barrier(8), []

        def send(path=path, start=start, answers=answers) -> None:
            start.wait()
            resp = app.test_client().post(path)
            answers.append((resp.status_code, (resp.get_json() or {}).get("id") or resp.get_json()))

        threads = [threading.Thread(target=send) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(code for code, _ in answers) == [200] * 7 + [202], answers
        assert len({made_id for _, made_id in answers}) == 1
    assert len(rows(app, reanalysis_of=old)) == 1
    with app.extensions["db_sessionmaker"]() as s:
        assert len(list(s.scalars(select(Batch).where(Batch.reanalysis_of == made["id"])))) == 1


def test_0010_upgrade_keeps_every_row_and_label(database_url):
    """The columns are added in place: SQLite does not rebuild the analyses table (which would cascade into labels)."""
    from alembic import command
    from sqlalchemy import text

    from shared.db import make_engine
    from shared.migrate import alembic_config

    cfg, engine = alembic_config(database_url), make_engine(database_url)
    command.downgrade(cfg, "0009_labels")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO analyses (id, created_at, status, attempts, filename, sha256, media_type, "
                          "size_bytes, has_provenance, model_version) VALUES ('a1', '2026-01-01', 'done', 1, 'x', "
                          "'x', 'image/jpeg', 1, false, 'm1')"))
        conn.execute(text("INSERT INTO labels (analysis_id, label, set_by, created_at) "
                          "VALUES ('a1', 'fake', 'local', '2026-01-02')"))
    command.upgrade(cfg, "head")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT label FROM labels")).scalars().all() == ["fake"]
        assert conn.execute(text("SELECT reanalysis_of, idempotency_key FROM analyses")).all() == [(None, None)]
    engine.dispose()
