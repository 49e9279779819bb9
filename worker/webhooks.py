"""Signed webhook requests: a JSON summary POSTed with an HMAC-SHA256 signature and a stable event id.

Receivers verify `X-Deepfake-Signature: sha256=HEX`, where HEX = HMAC-SHA256(secret, f"{timestamp}.{body}")
and timestamp is the `X-Deepfake-Timestamp` header (reject old timestamps to stop replays). The secret is the
API key's webhook secret, or for anonymous local use one derived from SECRET_KEY. `X-Deepfake-Event-Id` is
the same on every attempt of one event, so receivers can drop duplicates; `X-Deepfake-Attempt` counts from 1.

The callback's host is resolved and checked (shared/callbacks.py) just before each attempt, and the
connection goes to the checked address (the Host header and TLS name stay the URL's), so a DNS answer
that changes between the check and the connect cannot redirect the request. Redirects are not followed.
Only a short error class is stored, never the receiver's words.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import time

import urllib3
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from urllib3.exceptions import NewConnectionError, TimeoutError as Urllib3Timeout

from shared import callbacks
from shared.outbox import Error
from shared.models import Analysis, ApiKey, Batch, Status, WebhookEvent, iso
from shared.settings import Settings


def sign(secret: str, timestamp: int, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def _secret(session: Session, api_key_id: int | None, settings: Settings) -> str:
    if api_key_id is not None:
        key = session.get(ApiKey, api_key_id)
        if key is not None:
            return key.webhook_secret
    return hmac.new(settings.secret_key.encode(), b"webhooks", hashlib.sha256).hexdigest()


def _batch_payload(session: Session, batch: Batch) -> dict:
    rows = dict(session.execute(select(Analysis.status, func.count()).where(Analysis.batch_id == batch.id)
                                .group_by(Analysis.status)).all())
    verdicts = dict(session.execute(select(Analysis.verdict, func.count()).where(
        Analysis.batch_id == batch.id, Analysis.status == Status.DONE).group_by(Analysis.verdict)).all())
    return {"event": "batch.finished", "batch_id": batch.id, "name": batch.name, "total": batch.total,
            "counts": {s: int(rows.get(s, 0)) for s in (Status.DONE, Status.FAILED)},
            "verdicts": {k: int(v) for k, v in verdicts.items() if k},
            "finished_at": iso(batch.finished_at),
            "status_path": f"/api/v1/batches/{batch.id}", "results_path": f"/api/v1/batches/{batch.id}/results"}


def _analysis_payload(a: Analysis) -> dict:
    return {"event": "analysis.finished", "analysis_id": a.id, "status": a.status, "verdict": a.verdict,
            "fake_probability": a.fake_probability, "metadata_score": a.metadata_score, "error": a.error,
            "sha256": a.sha256, "status_path": f"/api/v1/analyses/{a.id}"}


def request_for(session: Session, event: WebhookEvent, attempt: int, settings: Settings) -> tuple[bytes, dict] | None:
    """The signed body and headers of one attempt; None when its batch or analysis is gone."""
    obj = session.get(Batch if event.kind == "batch" else Analysis, event.object_id)
    if obj is None:
        return None
    payload = _batch_payload(session, obj) if event.kind == "batch" else _analysis_payload(obj)
    body = json.dumps(payload, sort_keys=True).encode()
    timestamp = int(time.time())
    return body, {"Content-Type": "application/json", "User-Agent": "deepfake-detect-webhook/1",
                  "X-Deepfake-Timestamp": str(timestamp),
                  "X-Deepfake-Signature": sign(_secret(session, obj.api_key_id, settings), timestamp, body),
                  "X-Deepfake-Event-Id": event.id, "X-Deepfake-Attempt": str(attempt)}


def post(url: str, body: bytes, headers: dict, settings: Settings) -> tuple[int | None, str | None]:
    """One POST to a checked address: (status code, error class), the error None for a 2xx."""
    try:
        target = callbacks.resolve(url, settings.webhook_allow_private)
    except callbacks.Refused:
        return None, Error.BLOCKED
    timeout = urllib3.Timeout(connect=settings.webhook_connect_timeout_s, read=settings.webhook_read_timeout_s)
    options: dict = {"timeout": timeout, "retries": False, "maxsize": 1}
    if target.scheme == "https":
        options |= {"cert_reqs": "CERT_REQUIRED", "server_hostname": target.host, "assert_hostname": target.host}
    pool_class = urllib3.HTTPSConnectionPool if target.scheme == "https" else urllib3.HTTPConnectionPool
    headers = headers | {"Host": target.host_header}
    error = Error.REFUSED
    for ip in target.ips:  # the next address only when this one cannot be connected to (as browsers do)
        pool = pool_class(ip, target.port, **options)
        try:
            resp = pool.urlopen("POST", target.path, body=body, headers=headers, redirect=False,
                                assert_same_host=False, preload_content=False)
            resp.release_conn()  # the body is never read: its status line is all a receiver can tell us
            return resp.status, None if 200 <= resp.status < 300 else f"HTTP {resp.status}"
        except NewConnectionError:  # before the timeout check: it subclasses the connect timeout
            continue
        except Urllib3Timeout:
            error = Error.TIMEOUT
        except Exception:  # noqa: BLE001 - not HTTP (a banner, a reset, a TLS failure); its details stay out
            error = Error.INVALID
        finally:
            pool.close()
        break
    return None, error
