"""Content-addressed storage on both backends (a local folder, a real S3 server), its clean-up, byte sniffing."""
from __future__ import annotations

import hashlib
import io
import os
import shutil
from datetime import timedelta

import pytest

from shared import cleanup, images, storage
from shared.db import make_engine, make_sessionmaker
from shared.models import Analysis, Status, utcnow
from shared.settings import ObjectStore, Settings
from tests.conftest import make_jpeg, make_png


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path):
    """The store STORAGE_URL selects: unset (UPLOAD_DIR), or a new bucket on the test session's radosgw."""
    url = request.getfixturevalue("s3_storage") if request.param == "s3" else ""
    settings = Settings.from_env(data_dir=tmp_path, upload_dir=tmp_path / "uploads", storage_url=url)
    made = storage.store_for(settings)
    made.prepare()
    if request.param == "s3":
        server, bucket = request.getfixturevalue("s3_server"), settings.object_store.bucket
        made.stored = lambda: server.keys(bucket)
    else:
        root = settings.upload_dir
        made.stored = lambda: sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    return made


@pytest.fixture
def session(database_url):
    engine = make_engine(database_url)
    with make_sessionmaker(engine)() as s:
        yield s
    engine.dispose()


def put(store, data: bytes) -> storage.Incoming:
    with store.incoming(io.BytesIO(data), 10_000) as item:
        assert item.path.read_bytes() == data  # the block sees a local file (Pillow, exiftool need a path)
    return item


def maps(store, sha: str, names=("thumbnail.jpg", "ela.png")) -> None:
    with store.derived_writer(sha) as folder:
        for name in names:
            (folder / name).write_bytes(name.encode())


def local_leftovers(store) -> list[str]:
    """Spools and copies left on this machine (none once each block has ended)."""
    places = [store.scratch, getattr(store, "root", store.scratch)]
    return [p.name for folder in places if folder.is_dir() for p in folder.iterdir()
            if p.name.startswith((storage.SPOOL_PREFIX, "fetch-", "derived-"))]


def test_uploads_are_content_addressed_and_stored_once(store):
    data = b"x" * 5000
    sha = hashlib.sha256(data).hexdigest()
    first = put(store, data)
    assert (first.sha256, first.size, first.created) == (sha, 5000, True)
    assert store.stored() == [f"{sha[:2]}/{sha[2:4]}/{sha}"]  # the same layout on both backends
    assert put(store, data).created is False and store.exists(sha)
    assert not store.exists("0" * 64) and not local_leftovers(store)


def test_too_large_or_refused_uploads_leave_nothing(store):
    with pytest.raises(storage.TooLarge):
        with store.incoming(io.BytesIO(b"y" * 3000), 2000):
            pass
    with pytest.raises(ValueError):  # the block refused the file (e.g. not a readable image)
        with store.incoming(io.BytesIO(b"z" * 100), 2000):
            raise ValueError("refused")
    assert store.stored() == [] and not local_leftovers(store)


def test_fetch_gives_local_copies_for_the_block_only(store):
    a, b = put(store, b"a" * 100), put(store, b"b" * 200)
    with store.fetch([a.sha256, "f" * 64, b.sha256, a.sha256]) as paths:
        assert [p.read_bytes() if p.exists() else None for p in paths] == [b"a" * 100, None, b"b" * 200, b"a" * 100]
    assert not local_leftovers(store)


def test_derived_files_are_written_served_and_removed_with_their_upload(store):
    up = put(store, b"image bytes")
    maps(store, up.sha256)
    assert store.open_derived(up.sha256, "ela.png").read() == b"ela.png"
    assert store.open_derived(up.sha256, "noise.png") is None
    assert store.open_derived(up.sha256, "../" + up.sha256[:2]) is None  # a name is never a path
    assert set(store.derived_ages()) == {up.sha256}
    assert len(store.stored()) == 3 and not local_leftovers(store)
    with pytest.raises(RuntimeError):  # maps that failed half-way are not stored (the object store) or kept as they are
        with store.derived_writer("e" * 64) as folder:
            (folder / "thumbnail.jpg").write_bytes(b"half")
            raise RuntimeError("boom")
    store.remove_derived("e" * 64)
    store.remove(up.sha256)
    assert store.stored() == [] and store.derived_ages() == {}


def test_prune_scratch_removes_only_old_copies(store):
    store.scratch.mkdir(parents=True, exist_ok=True)
    old, new = store.scratch / "fetch-old", store.scratch / "fetch-new"
    old.mkdir(), new.mkdir()
    os.utime(old, (0, 0))
    assert store.prune_scratch(3600) == 1 and not old.exists() and new.exists()


def _row(session, sha: str, days_old: int = 0) -> Analysis:
    a = Analysis(filename="f.jpg", sha256=sha, media_type="image/jpeg", size_bytes=1, status=Status.DONE,
                 created_at=utcnow() - timedelta(days=days_old))  # finished: two of one file are two analyses
    session.add(a)
    session.commit()
    return a


def test_delete_and_retention_remove_a_file_only_when_no_analysis_needs_it(store, session):
    shared_file, other = put(store, b"shared" * 10), put(store, b"other" * 10)
    maps(store, shared_file.sha256)
    first, second = _row(session, shared_file.sha256, days_old=30), _row(session, shared_file.sha256)
    _row(session, other.sha256)
    assert cleanup.delete_analyses(session, store, [first], "local") == 1
    assert store.exists(shared_file.sha256) and store.open_derived(shared_file.sha256, "ela.png") is not None
    second.created_at = utcnow() - timedelta(days=30)
    session.commit()
    assert cleanup.purge_older_than(session, store, 7) == 1
    assert not store.exists(shared_file.sha256) and store.derived_ages() == {}
    assert store.exists(other.sha256) and session.get(Analysis, second.id).purged_at is not None  # verdict kept
    cleanup.remove_unused(session, store, {other.sha256})  # still referenced: kept
    assert store.exists(other.sha256)


def test_orphaned_derived_files_are_collected_after_the_grace(store, session):
    orphan, owned = "a" * 64, "b" * 64
    maps(store, orphan), maps(store, owned)
    _row(session, owned)
    assert cleanup.remove_orphaned_derived(session, store, grace_s=3600) == 0  # a worker may be writing them
    assert cleanup.remove_orphaned_derived(session, store, grace_s=-60) == 1
    assert set(store.derived_ages()) == {owned}


def test_the_readiness_check_passes_only_while_the_store_is_there(store):
    store.check()
    if isinstance(store, storage.LocalStore):
        shutil.rmtree(store.root)
    else:
        store.client.delete_bucket(Bucket=store.bucket)  # empty: every test leaves its bucket clean
    with pytest.raises(storage.Unavailable):
        store.check()


def test_storage_url_is_checked_when_the_settings_are_read(tmp_path):
    where = ObjectStore.parse("s3://bucket/some/prefix?endpoint_url=http://127.0.0.1:7480&region=eu-1")
    assert where == ObjectStore("bucket", "some/prefix", "http://127.0.0.1:7480", "eu-1")
    assert ObjectStore.parse("") is None and ObjectStore.parse("s3://b").prefix == ""
    for bad in ("/data/uploads", "s3://", "s3://b?endpoint=http://x", "gs://b"):
        with pytest.raises(ValueError):
            Settings.from_env(data_dir=tmp_path, storage_url=bad)


def test_path_for_rejects_anything_but_a_digest(tmp_path):
    for bad in ["../../etc/passwd", "a" * 63, "G" * 64]:
        with pytest.raises(ValueError):
            storage.path_for(tmp_path, bad)


def test_sniff_from_bytes():
    assert images.sniff(make_jpeg()).name == "JPEG"
    assert images.sniff(make_png()).name == "PNG"
    assert images.sniff(b"RIFF\0\0\0\0WEBPVP8 ").name == "WebP"
    assert images.sniff(b"\0\0\0\x18ftypheic\0\0\0\0").name == "HEIF"
    assert images.sniff(b"GIF89a....").name == "GIF"
    assert images.sniff(b"<html>") is None and images.sniff(b"") is None


@pytest.fixture
def store_down(overrides, monkeypatch):
    """Settings whose object store is a closed port: every call meets a refused connection."""
    from tests.live import free_port

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "nobody")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "nothing")
    return overrides | {"storage_url": f"s3://down?endpoint_url=http://127.0.0.1:{free_port()}"}


def test_an_object_store_that_does_not_answer_is_a_503_never_a_500(store_down):
    from tests.live import app_for

    with app_for(store_down) as app:
        client = app.test_client()
        resp = client.post("/api/v1/analyses", data={"file": (io.BytesIO(make_jpeg()), "a.jpg")},
                           content_type="multipart/form-data")
        assert resp.status_code == 503 and resp.headers["Retry-After"] == "5", resp.get_json()
        assert "object store did not answer" in resp.get_json()["error"]
        with app.extensions["db_sessionmaker"]() as s:
            assert s.query(Analysis).count() == 0  # nothing half-made: no row without its file
            analysis_id = _row(s, "cd" * 32).id
        assert not local_leftovers(storage.store_for(app.config["SETTINGS"]))
        # a delete is done once committed: the files it could not remove are left (and logged), not a 5xx
        assert client.delete(f"/api/v1/analyses/{analysis_id}").status_code in (200, 204)
        assert client.get(f"/api/v1/analyses/{analysis_id}").status_code == 404
        ready = client.get("/readyz")  # an orchestrator sees why this web cannot take uploads
        assert ready.status_code == 503
        assert ready.get_json()["checks"]["storage"].startswith("unavailable (the object store did not answer")


def test_a_maps_job_that_cannot_reach_the_store_gives_its_claim_back_for_the_retry(store_down):
    from shared.models import Maps, Status
    from worker import maps_task
    from worker.pipeline import Resources

    settings = Settings.from_env(**store_down)
    engine = make_engine(settings.database_url)
    with make_sessionmaker(engine)() as s:
        a = Analysis(filename="a.jpg", sha256="ab" * 32, media_type="image/jpeg", size_bytes=1,
                     status=Status.DONE, maps_state=Maps.PENDING)
        s.add(a)
        s.commit()
        with pytest.raises(storage.Unavailable):  # worker.tasks retries on it
            maps_task.make_maps(a.id, Resources(settings))
        s.refresh(a)
        assert a.maps_state == Maps.PENDING  # the retried delivery can claim it
    engine.dispose()
