"""Health endpoints for Compose and orchestrators: /healthz (alive) and /readyz (dependencies answer)."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from shared.redis_check import ping
from web.db import get_session

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """The process is up."""
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz():
    """The database and the broker answer; 503 naming what does not."""
    checks = {}
    try:
        get_session().execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # any driver error means not ready
        checks["database"] = f"unavailable ({exc.__class__.__name__})"
    checks["redis"] = "ok" if ping(current_app.config["SETTINGS"].redis_url) else "unavailable"
    ready = all(v == "ok" for v in checks.values())
    response = jsonify({"status": "ok" if ready else "unavailable", "checks": checks})
    response.status_code = 200 if ready else 503
    return response
