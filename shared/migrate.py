"""Apply Alembic migrations programmatically (run script, tests, `flask db-upgrade`).

`python -m shared.migrate` (the run script, Compose's one-shot `migrate`) also prepares the storage: the upload
folder, or the bucket STORAGE_URL names.
"""
from __future__ import annotations

from alembic import command
from alembic.config import Config

from shared.settings import ROOT


def alembic_config(url: str) -> Config:
    """An Alembic config for this repo pointed at `url`."""
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.attributes["url"] = url
    cfg.attributes["configure_logger"] = False
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at `url` up to `revision`."""
    command.upgrade(alembic_config(url), revision)


if __name__ == "__main__":
    from shared import storage
    from shared.settings import Settings

    settings = Settings.from_env()
    upgrade(settings.database_url)
    storage.store_for(settings).prepare()
