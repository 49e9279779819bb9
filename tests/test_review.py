"""Review (issue 13, item 3): labels, history filters, evaluation figures, key isolation, the labels export."""
from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest

from shared.models import Analysis, Label, Status, utcnow
from tests.conftest import make_jpeg
from tests.test_batches_api import auth, make_key
from tests.test_openapi import checker
from tests.test_pages import csrf_token

THRESHOLDS = {"model_fake": 0.5, "model_real": 0.2}


def add_analysis(app, name, verdict, p, detectors=None, version="v1", key_id=None, status=Status.DONE, age=0):
    """A finished analysis with a known verdict and scores, written straight to the database."""
    with app.extensions["db_sessionmaker"]() as s:
        a = Analysis(filename=name, sha256=(name.encode().hex() * 64)[:64], media_type="image/jpeg", size_bytes=1,
                     status=status, verdict=verdict, fake_probability=p, model_version=version, api_key_id=key_id,
                     created_at=utcnow() - timedelta(seconds=age),
                     result={"thresholds": THRESHOLDS, "reasons": [],
                             "detectors": [{"name": n, "version": "x", "fake_probability": q, "weight": 1.0}
                                           for n, q in (detectors or {}).items()]})
        s.add(a)
        s.commit()
        return a.id


def label(client, analysis_id, value, note=None, headers=None):
    body = {"label": value} | ({"note": note} if note is not None else {})
    return client.post(f"/api/v1/analyses/{analysis_id}/labels", json=body, headers=headers or {})


def known_set(app, client, key=None):
    """Six labelled analyses of model v1 (one relabelled), one unsure, one unlabelled, one of model v2."""
    headers = auth(key) if key else {}
    ids = {}
    table = (("r1", "real", "real", 0.1, 0.1, 0.3), ("r2", "real", "uncertain", 0.3, 0.4, 0.2),
             ("r3", "real", "fake", 0.7, 0.6, 0.9), ("f1", "fake", "fake", 0.9, 0.8, 0.1),
             ("f2", "fake", "real", 0.15, 0.2, 0.5), ("f3", "fake", "fake", 0.6, 0.7, 0.6),
             ("u1", "unsure", "fake", 0.8, 0.8, 0.8), ("x1", None, "fake", 0.95, 0.9, 0.9))
    for name, lab, verdict, p, a, b in table:  # name, label, verdict, combined p, detector a, detector b
        ids[name] = add_analysis(app, name + ".jpg", verdict, p, {"a": a, "b": b}, key_id=_key_id(app, key),
                                 age=len(ids))
        if name == "f3":  # relabelled: the latest label counts
            assert label(client, ids[name], "real", headers=headers).status_code == 201
        if lab:
            assert label(client, ids[name], lab, headers=headers).status_code == 201
    ids["v2"] = add_analysis(app, "v2.jpg", "uncertain", 0.4, {"a": 0.4}, version="v2", key_id=_key_id(app, key))
    assert label(client, ids["v2"], "real", headers=headers).status_code == 201
    return ids


def _key_id(app, token):
    if token is None:
        return None
    from shared import keys
    with app.extensions["db_sessionmaker"]() as s:
        return keys.find(s, token).id


def test_labels_are_recorded_with_who_and_when_and_kept_as_history(app, client):
    aid = add_analysis(app, "cat.jpg", "fake", 0.9)
    first = label(client, aid, "unsure", "blurry")
    assert first.status_code == 201, first.get_json()
    assert first.get_json()["set_by"] == "local" and first.get_json()["api_key_id"] is None
    assert label(client, aid, "real", "the photographer sent the raw file").status_code == 201
    body = client.get(f"/api/v1/analyses/{aid}/labels").get_json()
    assert body["current"]["label"] == "real" and body["current"]["note"] == "the photographer sent the raw file"
    assert [h["label"] for h in body["history"]] == ["real", "unsure"]
    assert all(h["created_at"] for h in body["history"])
    key_id, token = make_key(app, "newsdesk")
    keyed = add_analysis(app, "dog.jpg", "real", 0.1, key_id=key_id)
    by_key = label(client, keyed, "fake", headers=auth(token)).get_json()
    assert by_key["set_by"] == "newsdesk" and by_key["api_key_id"] == key_id


@pytest.mark.parametrize("body, problem", [({"label": "maybe"}, "label"), ({}, "label"),
                                           ({"label": "real", "note": "x" * 1001}, "note"),
                                           ({"label": "real", "note": "a\x00b"}, "NUL"),
                                           ({"label": "real", "who": "me"}, "who")])
def test_bad_labels_are_a_precise_400(app, client, body, problem):
    aid = add_analysis(app, "cat.jpg", "fake", 0.9)
    resp = client.post(f"/api/v1/analyses/{aid}/labels", json=body)
    assert resp.status_code == 400 and problem in resp.get_json()["error"]
    assert client.get(f"/api/v1/analyses/{aid}/labels").get_json()["history"] == []
    assert label(client, "no-such-id", "real").status_code == 404


def test_history_filters_by_label_and_by_disagreement(app, client):
    ids = known_set(app, client)

    def names(query):
        return sorted(i["filename"][:-4] for i in client.get(f"/api/v1/analyses?{query}").get_json()["items"])

    assert names("label=fake") == ["f1", "f2", "f3"]
    assert names("label=real") == ["r1", "r2", "r3", "v2"]
    assert names("label=unsure") == ["u1"]
    assert names("disagrees=true") == ["f2", "r3"]
    assert names("disagrees=false") == ["f1", "f3", "r1", "r2", "u1", "v2", "x1"]
    assert names("disagrees=true&label=real") == ["r3"]
    listed = {i["filename"]: i["label"] for i in client.get("/api/v1/analyses").get_json()["items"]}
    assert listed["f3.jpg"] == "fake" and listed["x1.jpg"] is None
    assert client.get("/api/v1/analyses?label=bogus").status_code == 400
    html = client.get("/history?disagrees=true").get_data(as_text=True)
    assert "r3.jpg" in html and "f2.jpg" in html and "r1.jpg" not in html
    assert ids


def test_evaluation_figures_on_a_known_set(app, client):
    ids = known_set(app, client)
    body = client.get("/api/v1/evaluation").get_json()
    by_version = {m["model_version"]: m for m in body["models"]}
    v1 = by_version["v1"]
    assert (v1["n"], v1["n_real"], v1["n_fake"], v1["n_unsure"]) == (6, 3, 3, 1)
    assert v1["confusion"] == {"real": {"real": 1, "uncertain": 1, "fake": 1},
                               "fake": {"real": 1, "uncertain": 0, "fake": 2}}
    assert v1["thresholds"] == THRESHOLDS
    exact = lambda x: pytest.approx(x, abs=1e-12)  # noqa: E731
    assert v1["at_fake_threshold"]["fpr"] == exact(1 / 3) and v1["at_fake_threshold"]["tpr"] == exact(2 / 3)
    assert v1["at_real_threshold"]["fpr"] == exact(2 / 3) and v1["at_real_threshold"]["tpr"] == exact(2 / 3)
    assert v1["roc_auc"] == exact(6 / 9)
    assert {d["name"]: d["roc_auc"] for d in v1["detectors"]} == {"a": exact(7 / 9), "b": exact(4 / 9)}
    assert sorted(d["id"] for d in v1["disagreements"]) == sorted([ids["r3"], ids["f2"]])
    assert all(d["page_url"] == f"/analyses/{d['id']}" for d in v1["disagreements"])
    v2 = by_version["v2"]  # one class only: no AUC, no TPR
    assert v2["n"] == 1 and v2["roc_auc"] is None and v2["detectors"] == [{"name": "a", "n": 1, "roc_auc": None}]
    assert v2["at_fake_threshold"]["tpr"] is None and v2["at_fake_threshold"]["fpr"] == 0
    html = client.get("/evaluation").get_data(as_text=True)
    assert f'href="/analyses/{ids["r3"]}"' in html and "0.667" in html


def test_a_key_sees_and_labels_only_its_own_analyses(app, client):
    _, token_a = make_key(app, "a")
    _, token_b = make_key(app, "b")
    ids = known_set(app, client, key=token_a)
    mine = add_analysis(app, "b-own.jpg", "fake", 0.9, key_id=_key_id(app, token_b))
    local = add_analysis(app, "local.jpg", "real", 0.1)
    aid = ids["r1"]
    assert label(client, aid, "fake", headers=auth(token_b)).status_code == 404
    assert client.get(f"/api/v1/analyses/{aid}/labels", headers=auth(token_b)).status_code == 404
    assert label(client, aid, "fake").status_code == 404  # the keyless user does not own key a's work
    assert label(client, local, "fake", headers=auth(token_a)).status_code == 404
    assert label(client, mine, "fake", headers=auth(token_b)).status_code == 201
    assert client.get(f"/api/v1/analyses/{aid}/labels", headers=auth(token_a)).get_json()["current"]["label"] == "real"
    assert [m["n"] for m in client.get("/api/v1/evaluation", headers=auth(token_b)).get_json()["models"]] == [1]
    assert client.get("/api/v1/evaluation").get_json()["models"] == []
    exported = client.get("/api/v1/labels/export?format=jsonl", headers=auth(token_b)).get_data(as_text=True)
    assert [json.loads(line)["analysis_id"] for line in exported.splitlines()] == [mine]
    assert client.get("/api/v1/analyses?label=real", headers=auth(token_b)).get_json()["total"] == 0


def test_labels_export_as_csv_and_jsonl(app, client):
    ids = known_set(app, client)
    label(client, ids["r1"], "real", "=HYPERLINK(\"http://evil\")")
    lines = client.get("/api/v1/labels/export?format=jsonl")
    assert lines.status_code == 200 and lines.mimetype == "application/x-ndjson"
    records = [json.loads(line) for line in lines.get_data(as_text=True).splitlines()]
    assert len(records) == 8  # every labelled analysis once, with its current label
    f3 = next(r for r in records if r["filename"] == "f3.jpg")
    assert set(f3) == {"analysis_id", "sha256", "filename", "label", "note", "labelled_by", "labelled_at", "verdict",
                       "fake_probability", "model_version"}
    assert (f3["label"], f3["labelled_by"], f3["verdict"], f3["fake_probability"], f3["model_version"]) == \
        ("fake", "local", "fake", 0.6, "v1")
    table = client.get("/api/v1/labels/export")
    assert table.mimetype == "text/csv" and "attachment" in table.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(table.get_data(as_text=True))))
    assert [r["sha256"] for r in rows] == [r["sha256"] for r in records]
    assert next(r for r in rows if r["filename"] == "r1.jpg")["note"].startswith("'=")  # no formula
    assert client.get("/api/v1/labels/export?format=xml").status_code == 400


def test_streamed_downloads_give_their_connection_back(app, client):
    """Found here: each labels or batch-results download kept a pooled connection checked out for good."""
    known_set(app, client)
    batch = client.post("/api/v1/batches", data={"files": [(io.BytesIO(make_jpeg()), "b.jpg")]},
                        content_type="multipart/form-data").get_json()
    pool = app.extensions["db_engine"].pool
    for url in (batch["results_url"], f"/batches/{batch['id']}/results", "/api/v1/labels/export?format=csv",
                "/api/v1/labels/export?format=jsonl"):
        with client.get(url) as resp:
            assert resp.status_code == 200 and resp.get_data()
        assert pool.checkedout() == 0, url


def test_new_routes_are_documented_and_real_responses_validate(app, client):
    check = checker(app)
    aid = add_analysis(app, "cat.jpg", "fake", 0.9, {"a": 0.9})
    check(label(client, aid, "fake", "looks generated"), "/api/v1/analyses/{analysis_id}/labels", "post")
    check(label(client, aid, "maybe"), "/api/v1/analyses/{analysis_id}/labels", "post")
    check(label(client, "nope", "real"), "/api/v1/analyses/{analysis_id}/labels", "post")
    check(client.get(f"/api/v1/analyses/{aid}/labels"), "/api/v1/analyses/{analysis_id}/labels", "get")
    check(client.get("/api/v1/analyses?label=fake&disagrees=false"), "/api/v1/analyses", "get")
    known_set(app, client)
    check(client.get("/api/v1/evaluation"), "/api/v1/evaluation", "get")
    check(client.get("/api/v1/labels/export?format=bogus"), "/api/v1/labels/export", "get")
    from web.core.openapi import document
    with app.test_request_context():
        params = {p["name"] for p in document()["paths"]["/api/v1/analyses"]["get"]["parameters"]}
    assert {"label", "disagrees"} <= params


def test_result_page_form_labels_with_csrf(app, client):
    aid = add_analysis(app, "cat.jpg", "fake", 0.9)
    page = client.get(f"/analyses/{aid}").get_data(as_text=True)
    assert 'id="label-form"' in page
    assert client.post(f"/analyses/{aid}/labels", data={"label": "real"}).status_code == 400  # no CSRF token
    token = csrf_token(client)
    resp = client.post(f"/analyses/{aid}/labels", data={"csrf_token": token, "label": "real", "note": "mine"})
    assert resp.status_code == 303
    html = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert 'id="current-label"' in html and "real by local" in html and "mine" in html
    bad = client.post(f"/analyses/{aid}/labels", data={"csrf_token": token, "label": "nope"})
    assert bad.status_code == 400
    with app.extensions["db_sessionmaker"]() as s:
        assert s.query(Label).count() == 1


def test_deleting_an_analysis_keeps_its_labels_in_the_audit_record_for_its_owner_only(app, client):
    key_id, token = make_key(app, "newsdesk")
    aid = add_analysis(app, "cat.jpg", "fake", 0.9, key_id=key_id)
    label(client, aid, "real", "a known photo", headers=auth(token))
    label(client, aid, "fake", headers=auth(token))
    assert client.delete(f"/api/v1/analyses/{aid}", headers=auth(token)).status_code == 204
    with app.extensions["db_sessionmaker"]() as s:
        assert s.query(Label).count() == 0  # they went with the analysis...
    resp = client.get("/api/v1/labels/deleted", headers=auth(token))
    checker(app)(resp, "/api/v1/labels/deleted", "get")
    body = resp.get_json()  # ...and their record stayed, newest first
    assert body["total"] == 2 and [r["label"] for r in body["items"]] == ["fake", "real"]
    first = body["items"][1]
    assert first["analysis_id"] == aid and first["filename"] == "cat.jpg" and first["note"] == "a known photo"
    assert first["set_by"] == "newsdesk" and first["deleted_by"] == "newsdesk" and first["verdict"] == "fake"
    assert first["deleted_at"].endswith("+00:00")
    assert client.get("/api/v1/labels/deleted").get_json()["total"] == 0  # another owner's record


def test_the_delete_button_asks_first_and_names_the_labels_it_keeps(app, client):
    aid = add_analysis(app, "cat.jpg", "fake", 0.9)
    token = csrf_token(client)
    client.post(f"/analyses/{aid}/labels", data={"csrf_token": token, "label": "fake"})
    result = client.get(f"/analyses/{aid}").get_data(as_text=True)
    assert f'href="/analyses/{aid}/delete" id="delete"' in result
    question = client.get(f"/analyses/{aid}/delete").get_data(as_text=True)
    assert 'id="confirm-delete"' in question and 'id="delete-labels"' in question and "(fake)" in question
    unconfirmed = client.post(f"/analyses/{aid}/delete", data={"csrf_token": token})
    assert unconfirmed.status_code == 200 and 'id="confirm-delete"' in unconfirmed.get_data(as_text=True)
    assert client.get(f"/analyses/{aid}").status_code == 200  # still there
    done = client.post(f"/analyses/{aid}/delete", data={"csrf_token": token, "confirm": "yes"})
    assert done.status_code == 303 and client.get(f"/analyses/{aid}").status_code == 404
    [kept] = client.get("/api/v1/labels/deleted").get_json()["items"]
    assert kept["label"] == "fake" and kept["deleted_by"] == "local"


def test_labels_migration_upgrades_and_downgrades(database_url):
    """0009_labels adds the table and drops it again; analyses are untouched either way."""
    from alembic import command
    from sqlalchemy import inspect, text

    from shared.db import make_engine
    from shared.migrate import alembic_config

    cfg, engine = alembic_config(database_url), make_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO analyses (id, created_at, status, attempts, filename, sha256, media_type, "
                          "size_bytes, has_provenance, pipeline_runs) VALUES ('a1', '2026-01-01', 'done', 1, 'x', "
                          "'x', 'image/jpeg', 1, false, 1)"))
        conn.execute(text("INSERT INTO labels (analysis_id, label, set_by, created_at) "
                          "VALUES ('a1', 'fake', 'local', '2026-01-02')"))
    command.downgrade(cfg, "0007_webhook_outbox")
    assert "labels" not in inspect(engine).get_table_names()
    command.upgrade(cfg, "head")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM labels")).scalar() == 0
        assert conn.execute(text("SELECT id FROM analyses")).scalars().all() == ["a1"]
    engine.dispose()


def test_levels_filter_the_history_and_their_observed_rates_stand_beside_the_cross_validated(app, client):
    rates = {"likely-ai": {"ai": 0.55, "real": 0.02}, "camera-original": {"ai": 0.01, "real": 0.4}}
    table = (("l1", "likely-ai", "fake", "fake"), ("l2", "likely-ai", "fake", "real"),
             ("c1", "camera-original", "real", "real"), ("i1", "inconclusive", "uncertain", "fake"))
    for name, level, verdict, lab in table:
        aid = add_analysis(app, name + ".jpg", verdict, 0.5, {"a": 0.5})
        with app.extensions["db_sessionmaker"]() as s:
            a = s.get(Analysis, aid)
            a.level = level
            a.result = dict(a.result) | {"level": {"name": level, "rates": rates.get(level)}}
            s.commit()
        assert label(client, aid, lab).status_code == 201
    items = client.get("/api/v1/analyses?level=likely-ai").get_json()["items"]
    assert sorted(i["filename"] for i in items) == ["l1.jpg", "l2.jpg"]
    assert {i["level_label"] for i in items} == {"likely AI"}
    assert client.get("/api/v1/analyses?level=probably").status_code == 400
    assert "l1.jpg" in client.get("/history?level=likely-ai").get_data(as_text=True)
    assert "c1.jpg" not in client.get("/history?level=likely-ai").get_data(as_text=True)
    body = client.get("/api/v1/evaluation").get_json()["models"][0]
    by = {lv["name"]: lv for lv in body["levels"]}
    assert list(by) == ["ai-provenance", "likely-ai", "inconclusive", "no-sign-of-ai", "camera-original"]
    assert (by["likely-ai"]["n_fake"], by["likely-ai"]["n_real"]) == (1, 1)
    assert by["likely-ai"]["observed_ai"] == pytest.approx(1 / 2) and by["likely-ai"]["observed_real"] == pytest.approx(1 / 2)
    assert by["likely-ai"]["cross_validated_ai"] == 0.55 and by["camera-original"]["cross_validated_real"] == 0.4
    assert by["no-sign-of-ai"]["cross_validated_ai"] is None and by["no-sign-of-ai"]["n_real"] == 0
    html = client.get("/evaluation").get_data(as_text=True)
    assert 'data-level="camera-original"' in html and "40.0 %" in html
