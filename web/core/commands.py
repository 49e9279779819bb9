"""Admin commands: `flask --app web keys create NAME`, `keys list`, `keys revoke ID`, `purge-uploads`, `reanalyse`."""
from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import select

from shared import keys as key_store
from shared.models import ApiKey


def _session():
    return current_app.extensions["db_sessionmaker"]()


def init_app(app: Flask) -> None:
    keys = AppGroup("keys", help="Create, list and revoke API keys.")

    @keys.command("create")
    @click.argument("name")
    @click.option("--rate-limit", type=click.IntRange(min=0), default=None,
                  help="requests per minute, 0 = unlimited (default RATE_LIMIT_PER_MINUTE)")
    @click.option("--max-batch-files", type=click.IntRange(min=1), default=None,
                  help="files per batch (default MAX_BATCH_FILES)")
    def create(name: str, rate_limit: int | None, max_batch_files: int | None) -> None:
        """Create a key; its token and webhook secret are printed once."""
        settings = current_app.config["SETTINGS"]
        with _session() as session:
            key, token = key_store.create(  # 0 is a value (unlimited), not "use the default"
                session, name, settings.rate_limit_per_minute if rate_limit is None else rate_limit,
                settings.max_batch_files if max_batch_files is None else max_batch_files)
            session.commit()
            click.echo(f"id: {key.id}\nname: {key.name}\ntoken: {token}\nwebhook_secret: {key.webhook_secret}")
            click.echo("Keep the token: only its hash is stored.", err=True)

    @keys.command("list")
    def list_() -> None:
        """Every key with its prefix and state."""
        with _session() as session:
            for key in session.scalars(select(ApiKey).order_by(ApiKey.id)):
                state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
                rate = f"{key.rate_limit_per_minute}/min" if key.rate_limit_per_minute > 0 else "unlimited"
                click.echo(f"{key.id}\t{key.prefix}…\t{key.name}\t{state}\t{rate}")

    @keys.command("revoke")
    @click.argument("key_id", type=int)
    def revoke(key_id: int) -> None:
        """Revoke a key: its requests get 401 from now on."""
        with _session() as session:
            if not key_store.revoke(session, key_id):
                raise click.ClickException(f"no active key with id {key_id}")
            session.commit()
            click.echo(f"revoked key {key_id}")

    @app.cli.command("purge-uploads")
    @click.option("--days", type=int, default=None, help="age in days (default RETENTION_DAYS)")
    def purge(days: int | None) -> None:
        """Delete uploaded files and maps older than the retention period; verdicts are kept."""
        from shared import cleanup as retention, storage

        settings = current_app.config["SETTINGS"]
        days = settings.retention_days if days is None else days
        if days <= 0:
            raise click.ClickException("no retention period: pass --days N or set RETENTION_DAYS")
        with _session() as session:
            n = retention.purge_older_than(session, storage.store_for(settings), days)
        click.echo(f"purged the files of {n} analyses older than {days} days")

    @app.cli.command("reanalyse")
    @click.option("--model-version", "old", required=True, help="the older model version, or its first characters")
    @click.option("--limit", type=click.IntRange(min=1), default=None, help="queue at most N re-analyses this run")
    @click.option("--chunk", type=click.IntRange(min=1), default=100, help="re-analyses committed, then enqueued, "
                                                                          "together (default 100)")
    def reanalyse(old: str, limit: int | None, chunk: int) -> None:
        """Re-analyse every analysis an older model made with the current one (MODEL_PATH), on the bulk queue.

        Run it again to resume: analyses with an unfinished re-analysis, or one by the current model, are skipped.
        """
        from shared import model_version
        from web.reanalysis import bulk
        from web.core.queue import QueueUnavailable

        settings = current_app.config["SETTINGS"]
        try:
            current = model_version.of(settings.model_path)
        except (OSError, ValueError, KeyError) as exc:
            raise click.ClickException(f"cannot read the current model at {settings.model_path}: {exc}") from None
        with _session() as session:
            try:
                old = bulk.resolve(session, old, current)
            except ValueError as exc:
                raise click.ClickException(str(exc)) from None
            todo = bulk.count(session, old, current)
            click.echo(f"model {old[:12]} -> {current[:12]}: {todo} analyses to re-analyse "
                       f"(queue {settings.bulk_queue!r})")
            try:
                done = bulk.run(session, settings, old, current, limit, chunk,
                                lambda p: click.echo(f"queued {p.queued} of {todo}"))
            except QueueUnavailable as exc:
                raise click.ClickException(f"{exc}: the re-analyses saved so far are sent by the workers' sweep; "
                                           "run the command again to continue") from None
        skipped = f"; {done.missing} skipped, their image no longer stored" if done.missing else ""
        click.echo(f"queued {done.queued} re-analyses{skipped}")

    app.cli.add_command(keys)
