"""Webhook outbox and dispatcher, in this process against real databases and real sockets on 127.0.0.1:
callback URLs refused by address, claims taken once per attempt, short error classes, the address checked
again at delivery. (tests/test_webhooks_end_to_end.py runs the same through a real worker.)"""
from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from shared import outbox
from shared.models import Analysis, Status, WebhookDelivery, WebhookEvent, utcnow
from shared.settings import Settings
from tests.conftest import make_jpeg
from tests.receivers import RawReceiver, Receiver, closed_port_url
from worker import webhooks
from worker.dispatch import Dispatcher

REFUSED = [("http://127.0.0.1:6379/", "loopback"), ("http://localhost:8000/hook", "loopback"),
           ("http://10.1.2.3/hook", "private"), ("http://192.168.0.10/", "private"),
           ("http://169.254.169.254/latest/meta-data/", "link-local"), ("http://[::1]:22/", "loopback"),
           ("http://[::ffff:127.0.0.1]/", "loopback"), ("http://0.0.0.0:5432/", "unspecified"),
           ("http://224.0.0.1/", "multicast"), ("http://240.0.0.1/", "reserved"),
           ("http://100.64.0.1/", "special-purpose"), ("https://[fd00::1]/", "private")]


def _upload(client, url: str):
    return client.post("/api/v1/analyses", data={"file": (io.BytesIO(make_jpeg()), "a.jpg"), "callback_url": url},
                       content_type="multipart/form-data")


@pytest.mark.parametrize("url,kind", REFUSED)
def test_callback_to_a_non_public_address_is_refused_with_the_reason(client, url, kind):
    resp = _upload(client, url)
    assert resp.status_code == 400, resp.get_json()
    assert f"a {kind} address" in resp.get_json()["error"] and "WEBHOOK_ALLOW_PRIVATE" in resp.get_json()["error"]
    batch = client.post("/api/v1/batches", data={"files": [(io.BytesIO(make_jpeg()), "b.jpg")], "callback_url": url},
                        content_type="multipart/form-data")
    assert batch.status_code == 400 and f"a {kind} address" in batch.get_json()["error"]


@pytest.mark.parametrize("url,reason", [("ftp://example.com/x", "absolute http"), ("http://:80/", "absolute http"),
                                        ("http://host.invalid/hook", "cannot be resolved"),
                                        ("http://[::1/", "not a valid URL")])
def test_malformed_or_unresolvable_callback_is_refused(client, url, reason):
    resp = _upload(client, url)
    assert resp.status_code == 400 and reason in resp.get_json()["error"], resp.get_json()


def test_the_setting_allows_local_receivers(overrides):
    from web import create_app

    app = create_app(overrides | {"webhook_allow_private": True})
    try:
        assert _upload(app.test_client(), "http://127.0.0.1:9/hook").status_code in (202, 503)
    finally:
        app.extensions["db_engine"].dispose()


def _settings(overrides, **extra) -> Settings:
    base = {"webhook_allow_private": True, "webhook_read_timeout_s": 1.0, "webhook_connect_timeout_s": 1.0}
    return Settings.from_env(**(overrides | base | extra))


def _event(settings: Settings, url: str) -> str:
    """A finished analysis with a callback, and its outbox row, committed together."""
    d = Dispatcher(settings)
    with d.sessions() as s:
        a = Analysis(filename="x.jpg", sha256="cd" * 32, media_type="image/jpeg", size_bytes=1, status=Status.DONE,
                     verdict="real", finished_at=utcnow(), callback_url=url)
        s.add(a)
        s.flush()
        event = outbox.add(s, "analysis", a.id, url)
        s.commit()
        return event.id


def _deliveries(d: Dispatcher, event_id: str) -> list[WebhookDelivery]:
    with d.sessions() as s:
        return list(s.scalars(select(WebhookDelivery).where(WebhookDelivery.event_id == event_id)
                              .order_by(WebhookDelivery.attempt)))


def test_an_attempt_is_claimed_once_and_its_outcome_kept(overrides):
    settings = _settings(overrides, webhook_retry_base_s=0.0)
    receiver = Receiver((500, 200))
    event_id = _event(settings, receiver.url)
    first, second = Dispatcher(settings), Dispatcher(settings)
    assert first.claim(5) == [(event_id, 1)]
    assert second.claim(5) == []  # under first's lease: nobody else sends attempt 1
    first.send(event_id, 1)
    assert second.claim(5) == [(event_id, 2)]
    assert first.claim(5) == []
    second.send(event_id, 2)
    assert first.claim(5) == [] and second.claim(5) == []  # delivered: retired
    assert [(c["headers"]["X-Deepfake-Attempt"], c["headers"]["X-Deepfake-Event-Id"]) for c in receiver.calls] == [
        ("1", event_id), ("2", event_id)]
    assert [(r.attempt, r.status_code, r.error, r.succeeded) for r in _deliveries(first, event_id)] == [
        (1, 500, "HTTP 500", False), (2, 200, None, True)]
    receiver.close()


class Killed(BaseException):
    """The sender's process dying: nothing after it runs (a SIGKILL, as the worker was given)."""


def test_an_attempt_is_recorded_before_it_is_sent(overrides, monkeypatch):
    settings = _settings(overrides, webhook_retry_base_s=0.0)
    receiver = Receiver((200,))
    event_id = _event(settings, receiver.url)
    d, recorded_when_sent, post = Dispatcher(settings), [], webhooks.post

    def post_then_die(*args):
        recorded_when_sent.append([r.attempt for r in _deliveries(d, event_id)])
        post(*args)
        raise Killed

    monkeypatch.setattr(webhooks, "post", post_then_die)
    with pytest.raises(Killed):
        d.send(*d.claim(1)[0])
    assert len(receiver.calls) == 1 and recorded_when_sent == [[1]]
    assert [(r.attempt, r.status_code, r.error, r.succeeded) for r in _deliveries(d, event_id)] == [
        (1, None, "no outcome recorded", False)]  # the receiver had it; the record says nobody saw the answer
    monkeypatch.setattr(webhooks, "post", post)
    with d.sessions() as s:  # the dead sender's lease runs out
        s.get(WebhookEvent, event_id).lease_expires_at = utcnow()
        s.commit()
    assert d.claim(1) == [(event_id, 2)]
    d.send(event_id, 2)
    assert [(r.attempt, r.status_code, r.error, r.succeeded) for r in _deliveries(d, event_id)] == [
        (1, None, "no outcome recorded", False), (2, 200, None, True)]
    assert [c["headers"]["X-Deepfake-Attempt"] for c in receiver.calls] == ["1", "2"]
    receiver.close()


def test_an_analysis_deleted_while_its_webhook_is_sent_cancels_it(overrides, monkeypatch):
    settings = _settings(overrides)
    receiver = Receiver((200,))
    event_id = _event(settings, receiver.url)
    d, post = Dispatcher(settings), webhooks.post

    def delete_then_post(*args):
        with d.sessions() as s:
            event = s.get(WebhookEvent, event_id)
            s.delete(s.get(Analysis, event.object_id))  # its delivery records go with it
            s.commit()
        return post(*args)

    monkeypatch.setattr(webhooks, "post", delete_then_post)
    d.send(*d.claim(1)[0])
    with d.sessions() as s:
        assert s.get(WebhookEvent, event_id).state == outbox.State.CANCELLED
    assert _deliveries(d, event_id) == [] and len(receiver.calls) == 1
    receiver.close()


def test_a_lease_that_ran_out_becomes_the_next_attempt_and_attempts_stop_at_eight(overrides):
    settings = _settings(overrides)
    event_id = _event(settings, closed_port_url())
    d = Dispatcher(settings)
    with d.sessions() as s:  # a sender died during its 8th attempt
        s.get(WebhookEvent, event_id).state, s.get(WebhookEvent, event_id).attempt = outbox.State.SENDING, 8
        s.get(WebhookEvent, event_id).lease_expires_at = utcnow()
        s.commit()
    assert d.claim(5) == []
    with d.sessions() as s:
        event = s.get(WebhookEvent, event_id)
        assert (event.state, event.attempt) == (outbox.State.FAILED, 8)


def test_stored_errors_are_short_classes_that_echo_nothing(overrides):
    settings = _settings(overrides)
    banner = RawReceiver(b"SSH-2.0-OpenSSH_9.6 secret-internal-host\r\n")
    silent = RawReceiver()
    redirect = Receiver((302,), headers={"Location": "http://127.0.0.1:1/elsewhere"})
    failing = Receiver((503,))
    cases = {closed_port_url(): "connection refused", banner.url: "invalid response", silent.url: "timeout",
             redirect.url: "HTTP 302", failing.url: "HTTP 503"}
    d = Dispatcher(settings)
    for url, expected in cases.items():
        event_id = _event(settings, url)
        (claimed,) = [c for c in d.claim(10) if c[0] == event_id]
        d.send(*claimed)
        (record,) = _deliveries(d, event_id)
        assert (record.error, record.succeeded) == (expected, False), url
    assert len(redirect.calls) == 1  # the redirect was not followed
    for r in (banner, silent, redirect, failing):
        r.close()


def test_the_address_is_checked_again_at_delivery(overrides):
    """Accepted when submitted (say the DNS answer was public then); loopback when delivered: nothing is sent."""
    receiver = Receiver()
    event_id = _event(_settings(overrides), receiver.url)
    d = Dispatcher(_settings(overrides, webhook_allow_private=False))
    d.send(*d.claim(1)[0])
    assert receiver.calls == []
    assert [(r.error, r.status_code) for r in _deliveries(d, event_id)] == [("blocked address", None)]
    receiver.close()


def test_batch_finished_says_when_with_the_apis_time_zone(overrides):
    from shared.models import Batch
    from worker.webhooks import _batch_payload

    d = Dispatcher(_settings(overrides))
    with d.sessions() as s:
        batch = Batch(total=0, finished_at=utcnow())
        s.add(batch)
        s.commit()
        batch_id = batch.id
    with d.sessions() as s:  # read back: SQLite hands back a naive datetime
        assert _batch_payload(s, s.get(Batch, batch_id))["finished_at"].endswith("+00:00")


def test_a_single_analysis_shows_its_delivery_attempts(app, client):
    from tests.test_openapi import checker

    with app.extensions["db_sessionmaker"]() as s:
        a = Analysis(filename="x.jpg", sha256="cd" * 32, media_type="image/jpeg", size_bytes=1, status=Status.DONE,
                     verdict="real", finished_at=utcnow(), callback_url="https://example.com/hook")
        s.add(a)
        s.flush()
        s.add_all([WebhookDelivery(event_id="e1", analysis_id=a.id, url=a.callback_url, attempt=n, status_code=code,
                                   error=error, succeeded=error is None)
                   for n, code, error in ((1, 500, "HTTP 500"), (2, 200, None))])
        s.add(Analysis(filename="y.jpg", sha256="ef" * 32, media_type="image/jpeg", size_bytes=1))
        s.commit()
        aid = a.id
    resp = client.get(f"/api/v1/analyses/{aid}")
    checker(app)(resp, "/api/v1/analyses/{analysis_id}", "get")
    attempts = resp.get_json()["webhook_deliveries"]
    assert [(x["attempt"], x["status_code"], x["error"], x["succeeded"]) for x in attempts] == [
        (1, 500, "HTTP 500", False), (2, 200, None, True)]
    assert attempts[0]["at"].endswith("+00:00")
    page_poll = client.get(f"/analyses/{aid}/status").get_json()  # the result page's poll: the same body
    assert page_poll["webhook_deliveries"] == attempts
