"""Engine and session factory; the boundary (request or task) owns each session."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite gets WAL and a busy timeout so web and workers can share the file."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # noqa: ANN001
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_pre_ping=True)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit (views render after committing)."""
    return sessionmaker(engine, expire_on_commit=False)

# PostgreSQL's transient aborts (deadlock detected, serialisation failure): retrying the transaction succeeds.
TRANSIENT_SQLSTATES = frozenset({"40P01", "40001"})

# A table or column the code needs is missing: the schema is behind the code (PostgreSQL's undefined_table and
# undefined_column; SQLite says it in words). Not transient: the migrations have to be run.
MISSING_SCHEMA_SQLSTATES = frozenset({"42P01", "42703"})
MIGRATE_COMMAND = "python -m shared.migrate"


def is_unmigrated(exc: Exception) -> bool:
    """Whether a database error says the schema is missing or older than the code."""
    orig = getattr(exc, "orig", exc)
    if getattr(orig, "sqlstate", None) in MISSING_SCHEMA_SQLSTATES:
        return True
    return str(orig).startswith(("no such table", "no such column"))
