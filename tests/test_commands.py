"""Admin commands through Flask's CLI runner: API keys and the upload retention purge."""
from __future__ import annotations

import io
import re
from datetime import timedelta

from shared.models import Analysis, utcnow
from tests.conftest import make_jpeg


def test_keys_create_list_revoke(app, client):
    runner = app.test_cli_runner()
    out = runner.invoke(args=["keys", "create", "newsroom", "--rate-limit", "5"]).output
    token = re.search(r"token: (\S+)", out).group(1)
    assert re.search(r"webhook_secret: [0-9a-f]{64}", out)
    assert client.get("/api/v1/analyses", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    listed = runner.invoke(args=["keys", "list"]).output
    assert "newsroom" in listed and "active" in listed and token not in listed
    key_id = listed.split("\t")[0]
    assert "revoked" in runner.invoke(args=["keys", "revoke", key_id]).output
    assert client.get("/api/v1/analyses", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert runner.invoke(args=["keys", "revoke", key_id]).exit_code != 0


def test_purge_uploads_keeps_verdicts(app, client):
    old = client.post("/api/v1/analyses", data={"file": (io.BytesIO(make_jpeg(color=(1, 2, 3))), "old.jpg")},
                      content_type="multipart/form-data").get_json()
    new = client.post("/api/v1/analyses", data={"file": (io.BytesIO(make_jpeg(color=(9, 8, 7))), "new.jpg")},
                      content_type="multipart/form-data").get_json()
    with app.extensions["db_sessionmaker"]() as s:
        row = s.get(Analysis, old["id"])
        row.created_at, row.status, row.verdict = utcnow() - timedelta(days=40), "done", "fake"
        s.commit()
    runner = app.test_cli_runner()
    assert runner.invoke(args=["purge-uploads"]).exit_code != 0  # no retention period set
    assert "purged the files of 1" in runner.invoke(args=["purge-uploads", "--days", "30"]).output
    upload_dir = app.config["SETTINGS"].upload_dir
    remaining = [p.name for p in upload_dir.rglob("*") if p.is_file()]
    assert remaining == [new["sha256"]]
    body = client.get(old["status_url"]).get_json()
    assert body["verdict"] == "fake" and body["purged_at"]


def test_keys_create_rate_limit_zero_is_unlimited(overrides):
    """Issue 11 item 10b: `--rate-limit 0` gave the default (120/min) instead of no limit."""
    from web import create_app

    app = create_app(overrides | {"rate_limit_per_minute": 2})
    try:
        runner, client = app.test_cli_runner(), app.test_client()
        out = runner.invoke(args=["keys", "create", "batch-job", "--rate-limit", "0"]).output
        headers = {"Authorization": "Bearer " + re.search(r"token: (\S+)", out).group(1)}
        assert [client.get("/api/v1/batches", headers=headers).status_code for _ in range(4)] == [200] * 4
        assert "unlimited" in runner.invoke(args=["keys", "list"]).output
        assert runner.invoke(args=["keys", "create", "x", "--rate-limit", "-1"]).exit_code != 0
    finally:
        app.extensions["db_engine"].dispose()
