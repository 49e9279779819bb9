"""The webhook outbox: events written with the state change that causes them, sent later by the dispatcher.

Semantics: at least once per event (a row is only retired by a 2xx or by running out of attempts), at most
once per attempt (an attempt number is taken by the conditional update that claims the row), at most
MAX_ATTEMPTS attempts, the n-th retry RETRY_BASE * 2**(n-1) seconds after the previous attempt.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from shared.models import WebhookDelivery, WebhookEvent

MAX_ATTEMPTS = 8


class State:
    PENDING = "pending"  # waiting for next_attempt_at
    SENDING = "sending"  # claimed: a dispatcher holds the lease and is sending attempt `attempt`
    DELIVERED = "delivered"
    FAILED = "failed"  # MAX_ATTEMPTS attempts, none accepted
    CANCELLED = "cancelled"  # its batch or analysis was deleted before delivery


class Error:
    """The only error text a delivery record keeps (besides `HTTP <status>`): nothing a receiver said."""

    REFUSED = "connection refused"
    TIMEOUT = "timeout"
    INVALID = "invalid response"  # not HTTP: a banner, a reset, a TLS failure
    BLOCKED = "blocked address"  # the host resolves to an address webhooks may not go to
    # recorded before the POST and replaced by its outcome; kept when the sender died mid-attempt (the
    # receiver may have had it: its next attempt carries the same X-Deepfake-Event-Id)
    UNANSWERED = "no outcome recorded"
    ALL = (REFUSED, TIMEOUT, INVALID, BLOCKED, UNANSWERED)


class Finishing(Protocol):
    id: str
    batch_id: str | None
    callback_url: str | None


def add(session: Session, kind: str, object_id: str, url: str) -> WebhookEvent:
    """Queue one webhook in the caller's transaction (the caller commits it with the state change)."""
    event = WebhookEvent(kind=kind, object_id=object_id, url=url, attempt=0, state=State.PENDING)
    session.add(event)
    return event


def analyses_finished(session: Session, finished: Iterable[Finishing]) -> None:
    """Queue the webhooks of single analyses (not in a batch) that asked for one and just finished."""
    for f in finished:
        if f.callback_url and not f.batch_id:
            add(session, "analysis", f.id, f.callback_url)


def already_queued(session: Session, kind: str, object_id: str) -> bool:
    """Whether an event or a successful delivery exists for this batch or analysis (jobs from before the outbox)."""
    column = WebhookDelivery.batch_id if kind == "batch" else WebhookDelivery.analysis_id
    return bool(session.scalar(select(WebhookEvent.id).where(WebhookEvent.object_id == object_id).limit(1))
                or session.scalar(select(WebhookDelivery.id).where(column == object_id,
                                                                   WebhookDelivery.succeeded).limit(1)))


def due(now: datetime):  # noqa: ANN201 - a SQL expression
    """Rows a dispatcher may claim: pending and due, or sending under a lease that ran out (its sender died)."""
    return or_((WebhookEvent.state == State.PENDING) & (WebhookEvent.next_attempt_at <= now),
               (WebhookEvent.state == State.SENDING) & (WebhookEvent.lease_expires_at < now))


def retry_delay(attempt: int, base_s: float) -> timedelta:
    """The wait after failed attempt number `attempt` (1-based)."""
    return timedelta(seconds=base_s * 2 ** (attempt - 1))
