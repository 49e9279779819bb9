"""docker-compose.yml stays in step with the code (Docker itself does not run on these machines)."""
from __future__ import annotations

import re
from pathlib import Path

import yaml

from shared.settings import ENV_VARS

ROOT = Path(__file__).resolve().parents[1]


def load():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_services_and_commands():
    services = load()["services"]
    assert {"web", "worker", "redis", "postgres", "migrate", "worker-gpu"} <= set(services)
    assert "gunicorn" in services["web"]["command"] and "web:create_app()" in services["web"]["command"]
    assert services["worker"]["command"][:3] == ["celery", "-A", "worker.celery_app"]
    assert services["migrate"]["command"] == ["python", "-m", "shared.migrate"]
    assert services["worker-gpu"]["profiles"] == ["gpu"]
    # one image: web and worker differ only by command
    assert services["web"]["build"] == services["worker"]["build"] == "."
    for name in ("redis", "postgres", "web"):
        assert "healthcheck" in services[name], name


def test_environment_names_exactly_what_the_code_reads():
    env = load()["services"]["web"]["environment"]
    assert set(env) == set(ENV_VARS), set(env) ^ set(ENV_VARS)
    assert env["DATABASE_URL"].startswith("postgresql://")


def test_readme_documents_every_setting():
    readme = (ROOT / "README.md").read_text()
    missing = [v for v in ENV_VARS if not re.search(rf"\|\s*`{v}`\s*\|", readme)]
    assert not missing, f"README configuration table lacks {missing}"


def test_health_route_used_by_compose_exists(client, app):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    not_ready = client.get("/readyz")  # no worker has beaten for this test's queue
    assert not_ready.status_code == 503
    assert not_ready.get_json()["checks"] == {"database": "ok", "redis": "ok", "workers": "no worker heartbeat"}
    from shared import heartbeat

    heartbeat.beat(app.extensions["redis"], app.config["SETTINGS"].queue, "test-host", 1, ttl_s=5)
    ready = client.get("/readyz")
    assert ready.status_code == 200 and set(ready.get_json()["checks"].values()) == {"ok"}
