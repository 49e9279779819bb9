"""Errors: what the web answers when something it needs is missing, on pages and in the API."""
from __future__ import annotations

import pytest

from shared.db import MIGRATE_COMMAND
from tests.conftest import REDIS_URL, new_postgres_database


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_database_url(request, tmp_path):
    """A database nobody migrated: SQLite's empty file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    with new_postgres_database("deepfake_empty") as url:
        yield url


def test_an_unmigrated_database_is_a_503_saying_to_run_the_migrations(tmp_path, empty_database_url):
    from web import create_app

    app = create_app({"data_dir": tmp_path, "upload_dir": tmp_path / "uploads", "database_url": empty_database_url,
                      "redis_url": REDIS_URL, "secret_key": "test-secret"})
    client = app.test_client()
    for url in ("/history", "/api/v1/analyses"):
        resp = client.get(url)
        assert resp.status_code == 503, (url, resp.status_code)
        assert MIGRATE_COMMAND in resp.get_data(as_text=True), url
    assert client.get("/api/v1/analyses").get_json()["error"].startswith("the database is not migrated")
    app.extensions["db_engine"].dispose()
