"""docker-compose.yml stays in step with the code (Docker itself does not run on these machines)."""
from __future__ import annotations

import re
from pathlib import Path

import yaml

from shared.settings import ENV_VARS, STORAGE_CREDENTIALS, ObjectStore

ROOT = Path(__file__).resolve().parents[1]


def load():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_services_and_commands():
    services = load()["services"]
    assert {"web", "worker", "redis", "postgres", "migrate", "worker-gpu", "objectstore"} <= set(services)
    assert "gunicorn" in services["web"]["command"] and "web:create_app()" in services["web"]["command"]
    # the default worker is the fleet, restarted whole when one of its workers stops
    assert services["worker"]["command"] == ["python", "-m", "worker.fleet"]
    assert services["worker"]["restart"] == "unless-stopped" and services["worker"]["init"] is True
    for name in ("worker-interactive", "worker-bulk", "worker-maps", "worker-gpu"):  # the profiles' single workers
        assert services[name]["command"][:3] == ["celery", "-A", "worker.celery_app"], name
    assert services["worker-interactive"]["environment"]["WORKER_QUEUES"] == "analyses"
    assert services["migrate"]["command"] == ["python", "-m", "shared.migrate"]
    assert services["worker-gpu"]["profiles"] == ["gpu"]
    # one image: web and worker differ only by command
    assert services["web"]["build"] == services["worker"]["build"] == "."
    for name in ("redis", "postgres", "web", "objectstore"):
        assert "healthcheck" in services[name], name


def test_web_and_workers_keep_their_files_in_the_object_store():
    services = load()["services"]
    store = services["objectstore"]
    assert store["build"] == {"context": ".", "target": "objectstore"}
    where = ObjectStore.parse(services["web"]["environment"]["STORAGE_URL"])
    assert where is not None and where.endpoint_url == "http://objectstore:7480"  # the service, on its port
    for name in ("web", "worker", "migrate", "worker-interactive", "worker-bulk", "worker-maps", "worker-gpu"):
        env = services[name]["environment"]
        assert env["STORAGE_URL"] == services["web"]["environment"]["STORAGE_URL"], name
        for key in STORAGE_CREDENTIALS:  # the keys the object store's user is created with
            assert env[key] == store["environment"][key], (name, key)
    for name in ("web", "worker", "migrate"):  # the bucket is made by migrate, used by the rest
        assert services[name]["depends_on"]["objectstore"] == {"condition": "service_healthy"}, name
    assert "objects" in load()["volumes"] and "objects:/var/lib/s3" in store["volumes"]
    # the image runs the tests' own server script, from the packages scripts/setup.sh --test installs
    dockerfile, setup = (ROOT / "Dockerfile").read_text(), (ROOT / "scripts" / "setup.sh").read_text()
    stage = dockerfile.split("AS objectstore", 1)[1].split("FROM ", 1)[0]
    assert "scripts/s3-server.sh" in stage and '"/var/lib/s3"' in stage
    for package in ("ceph-mon", "ceph-osd", "radosgw"):
        assert package in stage and package in setup, package


def test_environment_names_exactly_what_the_code_reads():
    env = load()["services"]["web"]["environment"]
    expected = set(ENV_VARS) | set(STORAGE_CREDENTIALS)
    assert set(env) == expected, set(env) ^ expected
    assert env["DATABASE_URL"].startswith("postgresql://")


def test_readme_documents_every_setting():
    readme = (ROOT / "README.md").read_text()
    missing = [v for v in (*ENV_VARS, *STORAGE_CREDENTIALS) if not re.search(rf"\|\s*`{v}`\s*\|", readme)]
    assert not missing, f"README configuration table lacks {missing}"


def test_health_route_used_by_compose_exists(client, app):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    not_ready = client.get("/readyz")  # no worker has beaten for this test's queue
    assert not_ready.status_code == 503
    assert not_ready.get_json()["checks"] == {"database": "ok", "redis": "ok", "workers": "no worker heartbeat",
                                             "storage": "ok"}
    from shared import heartbeat

    heartbeat.beat(app.extensions["redis"], app.config["SETTINGS"].queue, "test-host", 1, ttl_s=5)
    ready = client.get("/readyz")
    assert ready.status_code == 200 and set(ready.get_json()["checks"].values()) == {"ok"}
