"""Fixtures: a fresh database (SQLite, and PostgreSQL when available), an app, a client, test images."""
from __future__ import annotations

import io
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import text

from shared.db import make_engine
from shared.migrate import upgrade
from shared.models import Base

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SHARED_DIR", ROOT.parent / "shared"))
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL")
# The longest files (seconds per file from `pytest --durations=0`, summed) are handed out first: each file runs
# whole in one process (--dist loadfile), and one long file started last would leave the others idle at the end.
LONGEST_FIRST = ("test_webhooks_end_to_end.py", "test_chaos.py", "test_detector_held_out.py", "test_finetune.py",
                 "test_corpus.py", "test_faults.py", "test_scale_out.py", "test_maps_end_to_end.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: k for k, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: every other file keeps its order


def shared_path(*parts: str) -> Path:
    """A path in ../shared, or skip the test with the reason when it is not there."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"needs the reference data at {path} (../shared beside the checkout); not present here")
    return path


@contextmanager
def new_postgres_database(prefix: str = "deepfake_test") -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database beside TEST_POSTGRES_URL, dropped when the block ends."""
    if not POSTGRES_URL:
        pytest.skip("TEST_POSTGRES_URL is not set (scripts/test.sh sets it when PostgreSQL is available)")
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = make_engine(POSTGRES_URL).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:  # raises (fails the suite) when TEST_POSTGRES_URL is unreachable
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_url():
    """A fresh PostgreSQL database for this test session, migrated to head; fails if set but unreachable."""
    with new_postgres_database() as url:
        upgrade(url)
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request, tmp_path):
    """Each database-backed test runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'test.db'}"
        upgrade(url)
        return url
    url = request.getfixturevalue("postgres_url")
    engine = make_engine(url)
    with engine.begin() as conn:  # per-test isolation: empty tables
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
    engine.dispose()
    return url


@pytest.fixture
def queue_name():
    """A queue of our own on the real Redis, removed afterwards."""
    import redis

    name = f"test-{uuid.uuid4().hex[:8]}"
    yield name
    redis.Redis.from_url(REDIS_URL).delete(name, name + "-bulk", name + "-maps")


@pytest.fixture(scope="session")
def s3_server():
    """Ceph's radosgw on a one-node cluster of its own (tests/s3server.py), for the whole session."""
    from tests.s3server import S3Server

    server = S3Server()
    yield server
    server.stop()


@pytest.fixture
def s3_storage(s3_server, monkeypatch):
    """The STORAGE_URL of a new bucket on the real S3 server; its keys are in the environment, where boto3 looks."""
    for name, value in s3_server.env.items():
        monkeypatch.setenv(name, value)
    return s3_server.url(s3_server.bucket())


@pytest.fixture
def overrides(tmp_path, database_url, queue_name):
    return {
        "data_dir": tmp_path,
        "database_url": database_url,
        "upload_dir": tmp_path / "uploads",
        "redis_url": REDIS_URL,
        "queue": queue_name,
        "bulk_queue": queue_name + "-bulk",  # named as tests/live.py names a worker's
        "maps_queue": queue_name + "-maps",
        "secret_key": "test-secret",
    }


@pytest.fixture
def app(overrides):
    from web import create_app

    app = create_app(overrides)
    app.config["TESTING"] = True
    yield app
    app.extensions["db_engine"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(scope="module")
def res(tmp_path_factory):
    """The worker's Resources (the detector and an exiftool process), loaded once per test module."""
    from shared.settings import Settings
    from worker.pipeline import Resources

    r = Resources(Settings.from_env(data_dir=tmp_path_factory.mktemp("resources")))
    yield r
    r.close()


def make_jpeg(size=(64, 48), color=(200, 30, 30), **save) -> bytes:
    """A small real JPEG made with Pillow (with some texture, so it is not one flat colour)."""
    img = Image.new("RGB", size, color)
    for x in range(0, size[0], 4):
        img.putpixel((x, x % size[1]), (10, 200, 10))
    buf = io.BytesIO()
    img.save(buf, "JPEG", **save)
    return buf.getvalue()


def make_png(size=(40, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (20, 40, 220)).save(buf, "PNG")
    return buf.getvalue()


def write_tags(path: Path, *args: str) -> Path:
    """Write metadata into a file with the real exiftool, e.g. write_tags(p, '-Make=Canon')."""
    import subprocess

    subprocess.run(["exiftool", "-q", "-overwrite_original", *args, str(path)], check=True)
    return path


def camera_like_jpeg(path: Path, size=(640, 480)) -> Path:
    """A JPEG with the EXIF a camera writes (made here, so the core suite needs no reference data)."""
    import numpy as np

    rng = np.random.default_rng(7)
    base = np.linspace(0, 255, size[0] * size[1] * 3).reshape(size[1], size[0], 3)
    pixels = np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype("uint8")
    Image.fromarray(pixels).save(path, "JPEG", quality=92)
    return write_tags(path, "-Make=Canon", "-Model=Canon EOS 40D", "-ExposureTime=1/250", "-FNumber=5.6",
                      "-ISO=200", "-FocalLength=35", "-DateTimeOriginal=2024:05:01 10:00:00",
                      "-CreateDate=2024:05:01 10:00:00", "-LensModel=EF-S 17-85mm")
