"""Leases on analyses: one owner at a time, takeover only after expiry, writes only by the owner."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from shared.db import make_engine, make_sessionmaker
from shared.models import Analysis, Status, utcnow
from worker import lease


def _sessions(url):
    return make_sessionmaker(make_engine(url))


def _add(sessions, **fields) -> str:
    a = Analysis(filename="x.jpg", sha256="ab" * 32, media_type="image/jpeg", size_bytes=1, **fields)
    with sessions() as s:
        s.add(a)
        s.commit()
    return a.id


def _take(sessions, ids, owner, ttl=60.0) -> list[str]:
    with sessions() as s:
        taken = lease.take(s, ids, owner, ttl)
        s.commit()
    return taken


def _expire(sessions, analysis_id):
    with sessions() as s:
        s.execute(update(Analysis).where(Analysis.id == analysis_id)
                  .values(lease_expires_at=utcnow() - timedelta(seconds=1)))
        s.commit()


def test_a_live_lease_is_left_alone_and_only_a_lapsed_one_is_taken_over(database_url):
    sessions = _sessions(database_url)
    analysis_id = _add(sessions)
    assert _take(sessions, [analysis_id], "w1") == [analysis_id]
    assert _take(sessions, [analysis_id], "w2") == []  # a duplicate delivery: nothing, and no attempt counted
    with sessions() as s:
        assert (s.get(Analysis, analysis_id).attempts, s.get(Analysis, analysis_id).lease_owner) == (1, "w1")
    _expire(sessions, analysis_id)  # w1 died
    assert _take(sessions, [analysis_id], "w2") == [analysis_id]
    with sessions() as s:
        assert (s.get(Analysis, analysis_id).attempts, s.get(Analysis, analysis_id).lease_owner) == (2, "w2")
    sessions.kw["bind"].dispose()


def test_a_worker_whose_lease_was_taken_over_never_writes(database_url):
    sessions = _sessions(database_url)
    analysis_id = _add(sessions, status=Status.RUNNING)
    _take(sessions, [analysis_id], "stale")
    _expire(sessions, analysis_id)
    _take(sessions, [analysis_id], "fresh")
    with sessions() as s:
        assert not lease.write(s, analysis_id, "stale", {"status": Status.DONE, "verdict": "fake"})
        assert lease.write(s, analysis_id, "fresh", {"status": Status.DONE, "verdict": "real"})
        s.commit()
    with sessions() as s:
        assert not lease.write(s, analysis_id, "fresh", {"status": Status.FAILED})  # final: written once
        a = s.get(Analysis, analysis_id)
        assert (a.status, a.verdict, a.lease_expires_at) == (Status.DONE, "real", None)
    sessions.kw["bind"].dispose()


def test_leases_are_renewed_while_the_work_runs_and_released_when_abandoned(database_url):
    import time

    sessions = _sessions(database_url)
    analysis_id = _add(sessions)
    _take(sessions, [analysis_id], "w1", ttl=1.5)
    with lease.kept(sessions, [analysis_id], "w1", 1.5):
        time.sleep(3)  # twice the lease's life: only renewal keeps it
        assert _take(sessions, [analysis_id], "w2") == []
    lease.release(sessions, [analysis_id], "w1")
    assert _take(sessions, [analysis_id], "w2") == [analysis_id]
    sessions.kw["bind"].dispose()
