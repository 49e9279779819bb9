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


def test_keyless_idempotency_migration_keeps_the_oldest_duplicate(tmp_path):
    """Databases where concurrent keyless requests made duplicates still migrate; the oldest keeps the key."""
    from sqlalchemy import text

    url = f"sqlite:///{tmp_path / 'dup.db'}"
    cfg = alembic_config(url)
    command.upgrade(cfg, "0003")
    engine = make_engine(url)
    with engine.begin() as conn:
        for i, created in enumerate(("2026-01-02", "2026-01-01", "2026-01-03")):
            conn.execute(text("INSERT INTO batches (id, idempotency_key, total, created_at) "
                              "VALUES (:id, 'k', 1, :created)"), {"id": f"b{i}", "created": created})
    command.upgrade(cfg, "head")
    with engine.connect() as conn:
        kept = conn.execute(text("SELECT id FROM batches WHERE idempotency_key = 'k'")).scalars().all()
    engine.dispose()
    assert kept == ["b1"]
