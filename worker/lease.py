"""Leases: a worker process owns an analysis while it works on it, until an expiry it keeps renewing.

A delivery that finds a live lease does nothing. A lease whose worker died expires; the next delivery (the
broker's redelivery or the sweeper's) takes it over, and only then is another attempt counted. Results are
written with a condition on the owner, so a worker whose lease was taken over never overwrites them.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, or_, update
from sqlalchemy.orm import Session, sessionmaker

from shared.models import Analysis, Status, utcnow

log = logging.getLogger(__name__)


def new_owner() -> str:
    """host:pid:token; the token tells two claims of one process apart, so a stale one never writes."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def expired(now: Any) -> ColumnElement[bool]:
    """Rows with no live lease."""
    return or_(Analysis.lease_expires_at.is_(None), Analysis.lease_expires_at < now)


def _held(owner: str) -> ColumnElement[bool]:
    return (Analysis.lease_owner == owner) & Analysis.status.not_in(Status.FINAL)


def take(session: Session, ids: list[str], owner: str, ttl_s: float) -> list[str]:
    """Take the lease of each unfinished analysis that has no live one, counting an attempt; the ids taken.

    One conditional UPDATE per row, so two workers never both take it (PostgreSQL re-checks the condition after
    waiting for the other's row lock; SQLite runs one writer at a time). Commit to keep the leases.
    """
    now = utcnow()
    taken = []
    # in id order, the order in which every other multi-row update locks analyses (PostgreSQL sorts an IN list
    # for its index scan): two transactions locking the same rows in opposite orders deadlock
    for analysis_id in sorted(ids):
        stmt = (update(Analysis)
                .where(Analysis.id == analysis_id, Analysis.status.not_in(Status.FINAL), expired(now))
                .values(lease_owner=owner, lease_expires_at=now + timedelta(seconds=ttl_s),
                        attempts=Analysis.attempts + 1)
                .execution_options(synchronize_session=False))
        if session.execute(stmt).rowcount:
            taken.append(analysis_id)
    return taken


def write(session: Session, analysis_id: str, owner: str, values: dict[str, Any]) -> bool:
    """Write final values only while `owner` still holds the lease; False when it no longer does."""
    stmt = (update(Analysis).where(Analysis.id == analysis_id, _held(owner))
            .values(**values, lease_expires_at=None).execution_options(synchronize_session=False))
    return bool(session.execute(stmt).rowcount)


def release(sessions: sessionmaker[Session], ids: list[str], owner: str) -> None:
    """Let the leases go at once (the work was abandoned), so the next delivery need not wait for expiry.

    Best effort: when the database is away the leases simply lapse after their expiry.
    """
    try:
        with sessions() as session:
            session.execute(update(Analysis).where(Analysis.id.in_(ids), _held(owner))
                            .values(lease_expires_at=utcnow()).execution_options(synchronize_session=False))
            session.commit()
    except Exception:
        log.warning("could not release the leases of %s; they lapse on their own", ids, exc_info=True)


@contextmanager
def kept(sessions: sessionmaker[Session], ids: list[str], owner: str, ttl_s: float) -> Iterator[None]:
    """Renew the leases every third of their life while the block runs (a thread, stopped with the block)."""
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(max(0.5, ttl_s / 3)):
            try:
                with sessions() as session:
                    session.execute(update(Analysis).where(Analysis.id.in_(ids), _held(owner))
                                    .values(lease_expires_at=utcnow() + timedelta(seconds=ttl_s))
                                    .execution_options(synchronize_session=False))
                    session.commit()
            except Exception:  # the database is away: the lease may lapse, and the work is then taken over
                log.warning("could not renew the leases of %s", ids, exc_info=True)

    thread = threading.Thread(target=renew, name="lease-renewal", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
