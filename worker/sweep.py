"""Find analyses the queue lost track of and enqueue them again; keep this worker's heartbeat.

Runs as a thread in each worker's main process (not in the pool processes). Three kinds of lost work:
- queued but never published (the web could not reach the broker: enqueued_at is NULL);
- everything unfinished when the broker lost its data (a Redis restart without persistence), noticed
  because the epoch key this sweeper keeps in Redis has vanished;
- running with a lapsed lease (its worker died or hung; the lease is renewed while the work runs).
It also finishes batches left open with nothing left to run.
Only the sweeper holding the sweep lock acts in a round, so two workers never send the same ids; a stuck
analysis goes back to `queued` when it is sent. Even so, a delivery that finds a live lease does nothing.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from datetime import timedelta

import redis
from celery import Celery
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from shared import heartbeat, storage, tasks as names
from shared.db import make_engine, make_sessionmaker
from shared.models import LEASE_OWNER_LENGTH, Analysis, Batch, Lock, Maps, Status, utcnow
from shared.settings import Settings

log = logging.getLogger(__name__)
NEVER_PUBLISHED_AFTER_S = 10
ORPHAN_SCAN_EVERY = 10  # rounds between scans of the derived folders for orphans (they are rare)
SWEEP_LOCK = "sweep"


def epoch_key(settings: Settings) -> str:
    return f"deepfake:epoch:{settings.queue}"


class Sweeper(threading.Thread):
    def __init__(self, settings: Settings, app: Celery, hostname: str):
        super().__init__(name="deepfake-sweeper", daemon=True)
        self.settings, self.app, self.hostname = settings, app, hostname
        self.owner = f"{hostname}:{os.getpid()}"[:LEASE_OWNER_LENGTH]
        self.engine = make_engine(settings.database_url)  # own engine: the main process never forks after this
        self.sessions = make_sessionmaker(self.engine)
        self.redis = redis.Redis.from_url(settings.redis_url, socket_connect_timeout=2, socket_timeout=5)
        self.last_purge = -3600.0
        self.rounds = 0

    def run(self) -> None:
        while True:
            try:
                self.sweep_once()
                self.purge_if_due()
                self.collect_orphans()
            except Exception:  # the broker or the database is down: try again next round
                log.warning("sweep failed; retrying in %.0f s", self.settings.sweep_interval_s, exc_info=True)
            time.sleep(self.settings.sweep_interval_s)

    def purge_if_due(self) -> None:
        """With RETENTION_DAYS set, delete old uploads and maps (verdicts stay) about once an hour."""
        if self.settings.retention_days <= 0 or time.monotonic() - self.last_purge < 3600 or not self.lead():
            return
        from shared import cleanup

        self.last_purge = time.monotonic()
        with self.sessions() as session:
            n = cleanup.purge_older_than(session, storage.store_for(self.settings), self.settings.retention_days)
        if n:
            log.info("retention: purged the files of %d analyses", n)

    def collect_orphans(self) -> None:
        """Every ORPHAN_SCAN_EVERY rounds: remove the local copies a killed pool process left on this machine;
        the leader also removes maps a killed worker wrote for a deleted analysis."""
        self.rounds += 1
        if self.rounds % ORPHAN_SCAN_EVERY:
            return
        store = storage.store_for(self.settings)
        store.prune_scratch(self.settings.scratch_max_age_s)
        if not self.lead():
            return
        from shared import cleanup

        with self.sessions() as session:  # the grace: two lease lives without a write, so no live worker is at it
            n = cleanup.remove_orphaned_derived(session, store, 2 * self.settings.lease_s)
        if n:
            log.warning("removed the derived files of %d deleted analyses (their worker died)", n)

    def lead(self) -> bool:
        """Take or keep the sweep lock for a few rounds; False while another worker's sweeper holds it.

        A conditional UPDATE of a one-row table, the same on PostgreSQL and SQLite: exactly one sweeper acts
        per round, and another takes over when the holder stops renewing (its worker is gone).
        """
        now = utcnow()
        until = now + timedelta(seconds=max(5.0, 3 * self.settings.sweep_interval_s))
        with self.sessions() as session:
            held = session.execute(update(Lock).where(Lock.name == SWEEP_LOCK, or_(
                Lock.owner == self.owner, Lock.expires_at < now)).values(owner=self.owner, expires_at=until)).rowcount
            if not held and session.get(Lock, SWEEP_LOCK) is None:
                session.add(Lock(name=SWEEP_LOCK, owner=self.owner, expires_at=until))
                try:
                    session.flush()
                    held = 1
                except IntegrityError:  # another sweeper created it first
                    session.rollback()
            session.commit()
        return bool(held)

    def sweep_once(self) -> int:
        """One round: heartbeat, then (one sweeper only) re-enqueue whatever was lost. Returns how many."""
        ttl = max(5, int(self.settings.sweep_interval_s * 3))
        heartbeat.beat(self.redis, self.settings.queue, self.hostname, os.getpid(), ttl)
        if not self.lead():
            return 0
        broker_lost = bool(self.redis.set(epoch_key(self.settings), utcnow().isoformat(), nx=True))
        now = utcnow()
        # rows running before leases existed have none: judge those by the hard limit of a full chunk
        legacy_stuck = now - timedelta(seconds=self.settings.job_time_limits(self.settings.batch_chunk)[1] + 60)
        unpublished = now - timedelta(seconds=NEVER_PUBLISHED_AFTER_S)
        stuck = (Analysis.status == Status.RUNNING) & or_(
            Analysis.lease_expires_at < now, Analysis.lease_expires_at.is_(None) & (Analysis.started_at < legacy_stuck))
        lost = [(Analysis.status == Status.QUEUED) & Analysis.enqueued_at.is_(None)
                & (Analysis.created_at < unpublished), stuck]
        if broker_lost:  # the queue's contents are gone: everything unfinished must be sent again
            lost.append(Analysis.status.in_([Status.QUEUED, Status.RUNNING]))
        with self.sessions() as session:
            rows = session.execute(select(Analysis.id, Analysis.batch_id, Analysis.reanalysis_of)
                                   .where(or_(*lost))).all()
            ids = [row.id for row in rows]
            # a batch's items, and re-analyses (the bulk command queues thousands), stay behind people's
            # uploads; a person's one re-analysis re-sent after an outage waits with them, the lesser harm
            for analysis_id, batch_id, rerun_of in rows:
                queue = self.settings.bulk_queue if batch_id or rerun_of else self.settings.queue
                self.app.send_task(names.ANALYZE, args=[analysis_id], queue=queue)
            if ids:
                session.execute(update(Analysis).where(Analysis.id.in_(ids)).values(enqueued_at=utcnow()))
                # a lapsed lease goes back to the queue, so the next round does not send it again
                session.execute(update(Analysis).where(Analysis.id.in_(ids), stuck).values(
                    status=Status.QUEUED, lease_owner=None, lease_expires_at=None))
                session.commit()
        if ids:
            log.warning("re-enqueued %d analyses (%s)", len(ids), "broker lost its data" if broker_lost else "stale")
        if broker_lost:
            self.resend_maps()
        self.close_batches()
        return len(ids)

    def resend_maps(self) -> int:
        """The broker lost its queues: send the maps jobs of finished analyses whose maps were not made again.

        A claim in flight goes back to pending, so the job sent now can take it (the old claim's writer, if it
        is still alive, then writes nothing). Only on broker loss: a maps queue that is merely long is left be.
        """
        lost = (Analysis.status == Status.DONE) & Analysis.maps_state.in_([Maps.PENDING, Maps.RUNNING])
        with self.sessions() as session:
            ids = list(session.scalars(select(Analysis.id).where(lost)))
            for analysis_id in ids:
                self.app.send_task(names.MAKE_MAPS, args=[analysis_id], queue=self.settings.maps_queue)
            if ids:
                session.execute(update(Analysis).where(Analysis.id.in_(ids), Analysis.maps_state == Maps.RUNNING)
                                .values(maps_state=Maps.PENDING))
                session.commit()
        return len(ids)

    def close_batches(self) -> list[str]:
        """Finish open batches with nothing left to run, and send their webhooks.

        Workers close a batch when they write its last result; this catches the rest: the last open item was
        deleted while queued, or its worker died between writing the result and closing the batch.
        """
        from worker.runner import close_finished_batches

        open_item = select(Analysis.id).where(Analysis.batch_id == Batch.id, Analysis.status.not_in(Status.FINAL))
        with self.sessions() as session:
            ids = set(session.scalars(select(Batch.id).where(Batch.finished_at.is_(None), ~open_item.exists())
                                      .limit(100)))
        closed = close_finished_batches(self.settings, ids, self.sessions) if ids else []
        with self.sessions() as session:
            for batch_id in closed:
                if session.get(Batch, batch_id).callback_url:
                    self.app.send_task(names.DELIVER_WEBHOOK, args=["batch", batch_id], queue=self.settings.queue)
        return closed
