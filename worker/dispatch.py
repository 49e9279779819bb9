"""The webhook dispatcher: claims due outbox rows with a lease and sends them, in the worker's main process.

It runs as a thread beside the sweeper, with a few sender threads of its own, so a receiver that never
answers holds one sender thread for at most the connect + read timeouts and never a pool process
(analyses keep running). Nothing here goes through the broker: no countdown is ever handed to Celery,
and a webhook whose batch finished while Redis was down is still sent.

Claiming: the due rows are selected (FOR UPDATE SKIP LOCKED on PostgreSQL, so dispatchers on several
workers take different rows) and each is taken by a conditional UPDATE that also increments its attempt
number (on SQLite, where there is no row locking, that UPDATE alone decides). Each attempt number is
therefore sent at most once; a sender that dies mid-attempt leaves a lease that runs out, and the row is
claimed again as the next attempt.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from shared import outbox
from shared.db import make_engine, make_sessionmaker
from shared.models import WebhookDelivery, WebhookEvent, utcnow
from shared.outbox import Error, State
from shared.settings import Settings
from worker import webhooks

log = logging.getLogger(__name__)
SENDERS = 4


class Dispatcher(threading.Thread):
    def __init__(self, settings: Settings, senders: int = SENDERS):
        super().__init__(name="deepfake-webhooks", daemon=True)
        self.settings, self.senders = settings, senders
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.sessions = make_sessionmaker(make_engine(settings.database_url))
        self.pool = ThreadPoolExecutor(senders, thread_name_prefix="webhook-sender")
        self.in_flight = 0
        self.lock = threading.Lock()
        # a sender is never stuck longer than its timeouts; the margin keeps a slow one from losing its lease
        self.lease = timedelta(seconds=settings.webhook_connect_timeout_s + settings.webhook_read_timeout_s + 60)

    def run(self) -> None:
        while True:
            try:
                self.dispatch_once()
            except Exception:  # the database is down: try again next round
                log.warning("webhook dispatch failed; retrying", exc_info=True)
            time.sleep(self.settings.webhook_poll_s)

    def dispatch_once(self) -> int:
        """Claim what is due (as many as there are idle senders) and hand each to a sender thread."""
        with self.lock:
            free = self.senders - self.in_flight
        claimed = self.claim(free) if free > 0 else []
        for event_id, attempt in claimed:
            with self.lock:
                self.in_flight += 1
            self.pool.submit(self._send_and_release, event_id, attempt)
        return len(claimed)

    def claim(self, limit: int) -> list[tuple[str, int]]:
        """Take up to `limit` due rows under this dispatcher's lease; returns (event id, attempt number)."""
        now = utcnow()
        with self.sessions() as session:
            ids = list(session.scalars(select(WebhookEvent.id).where(outbox.due(now))
                                       .order_by(WebhookEvent.next_attempt_at).limit(limit)
                                       .with_for_update(skip_locked=True)))
            taken = [i for i in ids if session.execute(
                update(WebhookEvent).where(WebhookEvent.id == i, outbox.due(now))
                .values(state=State.SENDING, attempt=WebhookEvent.attempt + 1, lease_owner=self.owner,
                        lease_expires_at=now + self.lease)).rowcount]
            rows = session.execute(select(WebhookEvent.id, WebhookEvent.attempt)
                                   .where(WebhookEvent.id.in_(taken))).all() if taken else []
            spent = [i for i, attempt in rows if attempt > outbox.MAX_ATTEMPTS]  # the last sender died mid-attempt
            if spent:
                session.execute(update(WebhookEvent).where(WebhookEvent.id.in_(spent)).values(
                    state=State.FAILED, attempt=outbox.MAX_ATTEMPTS, lease_owner=None, lease_expires_at=None))
            session.commit()
        return [(i, attempt) for i, attempt in rows if i not in spent]

    def _send_and_release(self, event_id: str, attempt: int) -> None:
        try:
            self.send(event_id, attempt)
        except Exception:  # the row's lease runs out and the next claim makes it the next attempt
            log.warning("webhook %s attempt %d failed unexpectedly", event_id, attempt, exc_info=True)
        finally:
            with self.lock:
                self.in_flight -= 1

    def send(self, event_id: str, attempt: int) -> None:
        """Send one claimed attempt: recorded first, then sent, then its outcome and the row's next state.

        The record is committed before the POST, so an attempt that may have reached the receiver is never
        missing from the deliveries even if this process dies the moment it is sent; it then keeps the
        error Error.UNANSWERED.
        """
        with self.sessions() as session:
            event = session.get(WebhookEvent, event_id)
            if event is None:  # its batch was deleted, and the outbox row with it
                return None
            if (event.lease_owner, event.attempt) != (self.owner, attempt):  # our lease lapsed and was taken
                return None
            request = webhooks.request_for(session, event, attempt, self.settings)
            url, kind, object_id = event.url, event.kind, event.object_id
            record = WebhookDelivery(event_id=event_id, batch_id=object_id if kind == "batch" else None,
                                     analysis_id=object_id if kind == "analysis" else None, url=url,
                                     attempt=attempt, error=Error.UNANSWERED, succeeded=False)
            record_id = None
            if request is not None:
                session.add(record)
                try:
                    session.commit()
                    record_id = record.id
                except IntegrityError:  # deleted since request_for read it
                    session.rollback()
                    request = None
        if request is None:
            return self._finish(event_id, attempt, State.CANCELLED)
        status, error = webhooks.post(url, *request, self.settings)
        if error is None:
            state, next_at = State.DELIVERED, None
        elif attempt >= outbox.MAX_ATTEMPTS:
            state, next_at = State.FAILED, None
        else:
            state, next_at = State.PENDING, utcnow() + outbox.retry_delay(attempt, self.settings.webhook_retry_base_s)
        outcome = {"status_code": status, "error": error, "succeeded": error is None}
        if not self._finish(event_id, attempt, state, next_at, record_id, outcome):  # deleted while we were sending
            self._finish(event_id, attempt, State.CANCELLED)

    def _finish(self, event_id: str, attempt: int, state: str, next_at=None, record_id=None,  # noqa: ANN001
                outcome=None) -> bool:  # noqa: ANN001
        """The row's next state (while we hold its lease) and the attempt's outcome; False: its record is gone."""
        with self.sessions() as session:
            values = {"state": state, "lease_owner": None, "lease_expires_at": None}
            if next_at is not None:
                values["next_attempt_at"] = next_at
            # only while we still hold the lease on this attempt: a later attempt's owner is never overwritten
            session.execute(update(WebhookEvent).where(WebhookEvent.id == event_id, WebhookEvent.attempt == attempt,
                                                       WebhookEvent.lease_owner == self.owner).values(**values))
            kept = record_id is None or session.execute(
                update(WebhookDelivery).where(WebhookDelivery.id == record_id).values(**outcome)).rowcount == 1
            if kept:
                session.commit()
            return kept
