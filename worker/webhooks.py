"""Signed webhook delivery: a JSON summary POSTed with an HMAC-SHA256 signature, every attempt recorded.

Receivers verify `X-Deepfake-Signature: sha256=HEX`, where HEX = HMAC-SHA256(secret, f"{timestamp}.{body}")
and timestamp is the `X-Deepfake-Timestamp` header (reject old timestamps to stop replays).
The secret is the API key's webhook secret, or for anonymous local use one derived from SECRET_KEY.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import time

import requests
from sqlalchemy import func, select

from shared.models import Analysis, ApiKey, Batch, Status, WebhookDelivery
from shared.settings import Settings
from worker.runner import sessions

TIMEOUT_S = 10


def sign(secret: str, timestamp: int, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def _secret(session, api_key_id: int | None, settings: Settings) -> str:  # noqa: ANN001
    if api_key_id is not None:
        key = session.get(ApiKey, api_key_id)
        if key is not None:
            return key.webhook_secret
    return hmac.new(settings.secret_key.encode(), b"webhooks", hashlib.sha256).hexdigest()


def _batch_payload(session, batch: Batch) -> dict:  # noqa: ANN001
    rows = dict(session.execute(select(Analysis.status, func.count()).where(Analysis.batch_id == batch.id)
                                .group_by(Analysis.status)).all())
    verdicts = dict(session.execute(select(Analysis.verdict, func.count()).where(
        Analysis.batch_id == batch.id, Analysis.status == Status.DONE).group_by(Analysis.verdict)).all())
    return {"event": "batch.finished", "batch_id": batch.id, "name": batch.name, "total": batch.total,
            "counts": {s: int(rows.get(s, 0)) for s in (Status.DONE, Status.FAILED)},
            "verdicts": {k: int(v) for k, v in verdicts.items() if k},
            "finished_at": batch.finished_at.isoformat() if batch.finished_at else None,
            "status_path": f"/api/v1/batches/{batch.id}", "results_path": f"/api/v1/batches/{batch.id}/results"}


def _analysis_payload(a: Analysis) -> dict:
    return {"event": "analysis.finished", "analysis_id": a.id, "status": a.status, "verdict": a.verdict,
            "fake_probability": a.fake_probability, "metadata_score": a.metadata_score, "error": a.error,
            "sha256": a.sha256, "status_path": f"/api/v1/analyses/{a.id}"}


def deliver(kind: str, object_id: str, attempt: int, settings: Settings) -> bool:
    """One delivery attempt; records it and returns whether the receiver accepted it (2xx)."""
    with sessions(settings.database_url)() as session:
        obj = session.get(Batch if kind == "batch" else Analysis, object_id)
        if obj is None or not obj.callback_url:
            return True  # deleted since, or nothing to deliver
        payload = _batch_payload(session, obj) if kind == "batch" else _analysis_payload(obj)
        secret, url = _secret(session, obj.api_key_id, settings), obj.callback_url
    body = json.dumps(payload, sort_keys=True).encode()
    timestamp = int(time.time())
    headers = {"Content-Type": "application/json", "User-Agent": "deepfake-detect-webhook/1",
               "X-Deepfake-Timestamp": str(timestamp), "X-Deepfake-Signature": sign(secret, timestamp, body),
               "X-Deepfake-Attempt": str(attempt)}
    status, error = None, None
    try:
        resp = requests.post(url, data=body, headers=headers, timeout=TIMEOUT_S, allow_redirects=False)
        status = resp.status_code
        if not 200 <= status < 300:
            error = f"receiver answered {status}"
    except requests.RequestException as exc:
        error = f"{exc.__class__.__name__}: {exc}"[:500]
    with sessions(settings.database_url)() as session:
        session.add(WebhookDelivery(batch_id=object_id if kind == "batch" else None,
                                    analysis_id=object_id if kind != "batch" else None, url=url, attempt=attempt,
                                    status_code=status, error=error, succeeded=error is None))
        session.commit()
    return error is None
