"""GET /metrics: the Prometheus text exposition of shared.metrics, behind an optional bearer token."""
from __future__ import annotations

import hmac

from flask import Blueprint, Flask, Response, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from shared.metrics import ScrapeCollector
from web.core.errors import json_error

bp = Blueprint("metrics", __name__)


def init_app(app: Flask) -> None:
    """One registry per app: scrape-time counts, plus the workers' multiprocess files when configured."""
    settings = app.config["SETTINGS"]
    registry = CollectorRegistry()
    # every queue workers consume (interactive, bulk, maps), read from settings like every other consumer
    registry.register(ScrapeCollector(app.extensions["db_sessionmaker"], app.extensions["redis"],
                                      list(settings.queues)))
    if settings.metrics_dir is not None:
        settings.metrics_dir.mkdir(parents=True, exist_ok=True)
        MultiProcessCollector(registry, path=str(settings.metrics_dir))
    app.extensions["metrics_registry"] = registry


@bp.get("/metrics")
def metrics():
    """The exposition; 401 without `Authorization: Bearer $METRICS_TOKEN` when that is set."""
    token = current_app.config["SETTINGS"].metrics_token
    given = request.headers.get("Authorization", "")
    if token and not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        response = json_error(401, "metrics need 'Authorization: Bearer <METRICS_TOKEN>'")
        response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return Response(generate_latest(current_app.extensions["metrics_registry"]), content_type=CONTENT_TYPE_LATEST)
