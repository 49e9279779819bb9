"""Migrations: one head; an empty database upgrades to head and matches the models."""
from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from shared.db import make_engine
from shared.migrate import alembic_config
from shared.models import Base


def test_single_head():
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1


def test_upgrade_to_head_matches_models(database_url):
    # the fixture already upgraded the database to head
    engine = make_engine(database_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == [], f"models and migrations differ: {diff}"


def test_downgrade_and_upgrade_again(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    cfg = alembic_config(url)
    command.upgrade(cfg, "head")
    command.downgrade(cfg, "base")
    command.upgrade(cfg, "head")


def _database_at(tmp_path, revision: str):
    """A new SQLite database upgraded to `revision`: (its Alembic config, an engine on it)."""
    url = f"sqlite:///{tmp_path / 'at.db'}"
    cfg = alembic_config(url)
    command.upgrade(cfg, revision)
    return cfg, make_engine(url)


def test_keyless_idempotency_migration_keeps_the_oldest_duplicate(tmp_path):
    """Databases where concurrent keyless requests made duplicates still migrate; the oldest keeps the key."""
    from sqlalchemy import text

    cfg, engine = _database_at(tmp_path, "0003")
    with engine.begin() as conn:
        for i, created in enumerate(("2026-01-02", "2026-01-01", "2026-01-03")):
            conn.execute(text("INSERT INTO batches (id, idempotency_key, total, created_at) "
                              "VALUES (:id, 'k', 1, :created)"), {"id": f"b{i}", "created": created})
    command.upgrade(cfg, "head")
    with engine.connect() as conn:
        kept = conn.execute(text("SELECT id FROM batches WHERE idempotency_key = 'k'")).scalars().all()
    engine.dispose()
    assert kept == ["b1"]


def test_0004_forgets_reuse_links_that_name_another_keys_analysis(database_url):
    """Issue 11, item 7: results copied across keys named the other key's analysis; the upgrade drops those links."""
    from sqlalchemy import text

    engine = make_engine(database_url)
    cfg = alembic_config(database_url)
    command.downgrade(cfg, "0003")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO api_keys (id, name, prefix, key_hash, webhook_secret, rate_limit_per_minute, "
                          "max_batch_files, created_at) VALUES (1, 'a', 'a', 'ha', 's', 1, 1, '2026-01-01'), "
                          "(2, 'b', 'b', 'hb', 's', 1, 1, '2026-01-01')"))
        for id_, key, source in (("a1", 1, None), ("a2", 1, "a1"), ("b1", 2, "a1"), ("n1", None, None),
                                 ("n2", None, "n1"), ("n3", None, "a1")):
            conn.execute(text("INSERT INTO analyses (id, created_at, status, attempts, filename, sha256, media_type, "
                              "size_bytes, has_provenance, api_key_id, reused_from) VALUES (:id, '2026-01-01', "
                              "'done', 1, 'x', 'x', 'image/jpeg', 1, false, :key, :source)"),
                         {"id": id_, "key": key, "source": source})
    command.upgrade(cfg, "head")
    with engine.connect() as conn:
        links = dict(conn.execute(text("SELECT id, reused_from FROM analyses")).all())
    engine.dispose()
    assert links == {"a1": None, "a2": "a1", "b1": None, "n1": None, "n2": "n1", "n3": None}


def test_0012_waits_for_identical_uploads_in_flight_then_migrates(tmp_path):
    """Duplicates made before the index are not merged or failed: the upgrade says to let them finish."""
    import pytest
    from sqlalchemy import text

    cfg, engine = _database_at(tmp_path, "0011_levels")
    with engine.begin() as conn:
        for i in range(2):
            conn.execute(text("INSERT INTO analyses (id, created_at, status, attempts, filename, sha256, media_type, "
                              "size_bytes, has_provenance) VALUES (:id, '2026-01-01', 'queued', 0, 'a.jpg', :sha, "
                              "'image/jpeg', 1, false)"), {"id": f"a{i}", "sha": "ab" * 32})
    with pytest.raises(RuntimeError, match="in flight more than once; let the workers finish them"):
        command.upgrade(cfg, "head")
    with engine.begin() as conn:
        conn.execute(text("UPDATE analyses SET status = 'done' WHERE id = 'a0'"))
    command.upgrade(cfg, "head")
    engine.dispose()


def test_0014_downgrade_drops_the_source_columns_and_keeps_every_index(database_url):
    """SQLite's batch mode copies the table and would lose 0012's expression index: the downgrade keeps it."""
    from sqlalchemy import inspect, text

    def indexes(conn) -> set[str]:
        if conn.dialect.name == "sqlite":
            rows = conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                                     "AND tbl_name = 'analyses' AND sql IS NOT NULL"))
        else:
            rows = conn.execute(text("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'analyses'"))
        return {f"{name}: {sql}" for name, sql in rows}

    engine = make_engine(database_url)
    cfg = alembic_config(database_url)
    with engine.connect() as conn:
        at_head = indexes(conn)
    assert any("uq_analyses_in_flight_upload" in i for i in at_head)
    command.downgrade(cfg, "0013_label_audit")
    with engine.connect() as conn:
        columns = {c["name"] for c in inspect(conn).get_columns("analyses")}
        assert indexes(conn) == at_head
    assert not columns & {"source_url", "source_final_url", "source_address"}
    command.upgrade(cfg, "head")
    with engine.connect() as conn:
        assert {"source_url", "source_final_url", "source_address"} <= {
            c["name"] for c in inspect(conn).get_columns("analyses")}
    engine.dispose()
