"""Health endpoints for Compose and orchestrators: /healthz (alive) and /readyz (dependencies answer)."""
from __future__ import annotations

import redis
from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from shared import heartbeat, storage
from web.core.db import get_session

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """The process is up."""
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz():
    """The database, Redis and the upload store answer and at least one worker has a live heartbeat; 503
    naming what does not."""
    checks = {}
    try:
        get_session().execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # any driver error means not ready
        checks["database"] = f"unavailable ({exc.__class__.__name__})"
    client: redis.Redis = current_app.extensions["redis"]
    try:
        client.ping()
        checks["redis"] = "ok"
        workers = heartbeat.alive(client, current_app.config["SETTINGS"].queue)
        checks["workers"] = "ok" if workers else "no worker heartbeat"
    except redis.RedisError as exc:
        checks["redis"] = f"unavailable ({exc.__class__.__name__})"
        checks["workers"] = "unknown (Redis unavailable)"
    try:
        storage.store_for(current_app.config["SETTINGS"]).check()
        checks["storage"] = "ok"
    except storage.Unavailable as exc:
        checks["storage"] = f"unavailable ({exc})"
    ready = all(v == "ok" for v in checks.values())
    response = jsonify({"status": "ok" if ready else "unavailable", "checks": checks})
    response.status_code = 200 if ready else 503
    return response
