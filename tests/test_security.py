"""Authorisation of files and maps, private metadata, CSRF, headers, secrets."""
from __future__ import annotations

import io
import re
import uuid

import pytest

from shared import keys, storage
from shared.models import Analysis, Status
from shared.settings import Settings
from tests.conftest import make_jpeg


def _key(app, name):
    with app.extensions["db_sessionmaker"]() as s:
        _, token = keys.create(s, name)
        s.commit()
    return {"Authorization": f"Bearer {token}"}


def _with_map(app, client, headers) -> dict:
    """An analysis of `headers`' key with a forensic map on disk (as the worker would write it)."""
    body = client.post("/api/v1/analyses", data={"file": (io.BytesIO(make_jpeg()), "a.jpg")}, headers=headers,
                       content_type="multipart/form-data").get_json()
    folder = storage.derived_dir(app.config["SETTINGS"].upload_dir, body["sha256"])
    folder.mkdir(parents=True)
    (folder / "ela.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 32)
    with app.extensions["db_sessionmaker"]() as s:  # as the worker leaves it once its maps job ran
        s.get(Analysis, body["id"]).status, s.get(Analysis, body["id"]).maps_state = Status.DONE, "ready"
        s.commit()
    return body


def test_maps_are_served_only_to_their_owner(app, client):
    alice, bob = _key(app, "alice"), _key(app, "bob")
    a = _with_map(app, client, alice)
    url = f"/api/v1/analyses/{a['id']}/files/ela.png"
    ok = client.get(url, headers=alice)
    assert ok.status_code == 200 and ok.headers["Content-Type"] == "image/png"
    assert ok.headers["X-Content-Type-Options"] == "nosniff"
    assert client.get(url, headers=bob).status_code == 404
    assert client.get(url).status_code == 404
    assert client.get(f"/analyses/{a['id']}/files/ela.png").status_code == 404  # the pages serve the local user only
    assert client.get(f"/analyses/{a['id']}").status_code == 404
    for name in ("../secret_key", "ela.PNG", "x" * 60 + ".png", "ela.png.html"):
        assert client.get(f"/api/v1/analyses/{a['id']}/files/{name}", headers=alice).status_code == 404


def test_private_metadata_is_hidden_unless_asked(app, client):
    evidence = [{"kind": "metadata_score", "source": "EXIF:GPSLatitude", "value": "48 deg 51' 29.88\" N",
                 "effect": "real", "reason": "GPS position recorded", "weight": 0.05},
                {"kind": "metadata_score", "source": "EXIF:Make/Model", "value": "Canon EOS", "effect": "real",
                 "reason": "camera recorded", "weight": 0.15}]
    a = Analysis(filename="p.jpg", sha256="cd" * 32, media_type="image/jpeg", size_bytes=1, status="done",
                 verdict="real", fake_probability=0.1, metadata_score=0.9, model_version="m",
                 result={"reasons": ["r"], "evidence": evidence, "maps": []},
                 file_metadata={"EXIF": {"GPSLatitude": "48 deg 51' 29.88\" N", "Make": "Canon"},
                                "MakerNotes": {"SerialNumber": "0123456789", "InternalSerialNumber": "XYZ"}})
    with app.extensions["db_sessionmaker"]() as s:
        s.add(a)
        s.commit()
    page = client.get(f"/analyses/{a.id}/metadata").get_data(as_text=True)
    assert "0123456789" not in page and "29.88" not in page and "Canon" in page
    assert "3 values that can identify" in page
    shown = client.get(f"/analyses/{a.id}/metadata?private=true").get_data(as_text=True)
    assert "0123456789" in shown and "29.88" in shown
    api = client.get(f"/api/v1/analyses/{a.id}").get_json()
    values = {e["source"]: e["value"] for e in api["evidence"]}
    assert "29.88" not in str(values["EXIF:GPSLatitude"]) and values["EXIF:Make/Model"] == "Canon EOS"
    asked = client.get(f"/api/v1/analyses/{a.id}?private=true").get_json()
    assert "29.88" in {e["source"]: e["value"] for e in asked["evidence"]}["EXIF:GPSLatitude"]


def test_delete_form_needs_csrf_and_ids_are_uuids(client):
    body = client.post("/api/v1/analyses", data={"file": (io.BytesIO(make_jpeg()), "a.jpg")},
                       content_type="multipart/form-data").get_json()
    assert uuid.UUID(body["id"]).version == 4
    assert client.post(f"/analyses/{body['id']}/delete").status_code == 400
    html = client.get(f"/analyses/{body['id']}").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    resp = client.post(f"/analyses/{body['id']}/delete", data={"csrf_token": token, "confirm": "yes"})
    assert resp.status_code == 303 and client.get(body["status_url"]).status_code == 404


def test_security_headers_on_pages(client):
    resp = client.get("/")
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp and "frame-ancestors 'none'" in csp
    assert resp.headers["X-Frame-Options"] == "DENY" and resp.headers["X-Content-Type-Options"] == "nosniff"


def test_secret_key_is_required_in_production(monkeypatch, tmp_path):
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        Settings.from_env(data_dir=tmp_path)
    monkeypatch.setenv("APP_ENV", "development")
    generated = Settings.from_env(data_dir=tmp_path).secret_key
    assert len(generated) == 64 and Settings.from_env(data_dir=tmp_path).secret_key == generated
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_web_ui_can_be_turned_off(overrides):
    from web import create_app

    app = create_app(overrides | {"web_ui": False})
    client = app.test_client()
    assert client.get("/").status_code == 403 and client.get("/history").status_code == 403
    assert client.get("/api/v1/analyses").status_code == 200
    app.extensions["db_engine"].dispose()


def _upload(client, **headers):
    return client.post("/api/v1/analyses", data={"file": (io.BytesIO(make_jpeg()), "a.jpg")}, headers=headers,
                       content_type="multipart/form-data")


def test_keyless_api_cannot_be_driven_cross_site(app, client):
    """Issue 11 item 10e: any web page could POST uploads or DELETE analyses as the keyless local user."""
    upload_dir = app.config["SETTINGS"].upload_dir
    for headers in ({"Origin": "https://evil.example"}, {"Origin": "null"}, {"Sec-Fetch-Site": "cross-site"},
                    {"Origin": "http://localhost.evil.example"}, {"Sec-Fetch-Site": "same-site"}):
        resp = _upload(client, **headers)
        assert resp.status_code == 403, (headers, resp.get_json())
        assert "cross-origin" in resp.get_json()["error"]
    assert not [p for p in upload_dir.rglob("*") if p.is_file()]
    same = _upload(client, Origin="http://localhost", **{"Sec-Fetch-Site": "same-origin"})
    plain = _upload(client)  # curl, scripts: no Origin
    assert same.status_code == plain.status_code == 202
    target = f"/api/v1/analyses/{plain.get_json()['id']}"
    assert client.delete(target, headers={"Origin": "https://evil.example"}).status_code == 403
    assert client.get(target, headers={"Origin": "https://evil.example"}).status_code == 200  # reads are not refused
    assert client.delete(target, headers={"Origin": "http://localhost"}).status_code == 204
    batch = client.post("/api/v1/batches", data={"files": [(io.BytesIO(make_jpeg()), "b.jpg")]},
                        headers={"Origin": "https://evil.example"}, content_type="multipart/form-data")
    assert batch.status_code == 403


def test_a_key_may_be_used_from_any_origin(app, client):
    assert _upload(client, Origin="https://elsewhere.example", **_key(app, "spa")).status_code == 202


def test_a_host_not_allowed_is_a_400_so_dns_rebinding_cannot_drive_the_api(app, client):
    """A keyless DELETE from a rebound name is same-origin to itself (Origin == Host): only the Host list stops it."""
    target = f"/api/v1/analyses/{_upload(client).get_json()['id']}"
    rebound = {"Host": "rebind.evil.example", "Origin": "http://rebind.evil.example"}
    resp = client.delete(target, headers=rebound)
    assert resp.status_code == 400 and "ALLOWED_HOSTS" in resp.get_json()["error"]
    assert client.get("/", headers={"Host": "localhost.evil.example:8000"}).status_code == 400  # pages too
    assert client.get(target, headers={"Host": "rebind.evil.example"}).status_code == 400
    for host in ("127.0.0.1:8000", "localhost", "LOCALHOST:5000", "[::1]:8000", "[::1]"):
        assert client.get(target, headers={"Host": host}).status_code == 200, host
    assert client.delete(target, headers={"Host": "127.0.0.1:8000", "Origin": "http://127.0.0.1:8000"}).status_code == 204


def test_allowed_hosts_is_a_setting(monkeypatch, tmp_path):
    monkeypatch.setenv("ALLOWED_HOSTS", " example.org, 10.0.0.5 ,")
    assert Settings.from_env(data_dir=tmp_path).allowed_hosts == ("example.org", "10.0.0.5")
    monkeypatch.delenv("ALLOWED_HOSTS")
    assert Settings.from_env(data_dir=tmp_path).allowed_hosts == ("127.0.0.1", "localhost", "[::1]")
