"""HTML pages through the test client: upload form (CSRF), result, metadata (escaped), history."""
from __future__ import annotations

import io
import re

from shared.models import Analysis, Status
from tests.conftest import make_jpeg


def csrf_token(client) -> str:
    html = client.get("/").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_form_upload_redirects_to_result_page(client):
    token = csrf_token(client)
    resp = client.post("/analyses", data={"csrf_token": token, "file": (io.BytesIO(make_jpeg()), "cat.jpg")},
                       content_type="multipart/form-data")
    assert resp.status_code == 303
    page = client.get(resp.headers["Location"])
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "cat.jpg" in html and f'data-status-url="/analyses/' in html


def test_form_without_csrf_token_is_refused(client):
    resp = client.post("/analyses", data={"file": (io.BytesIO(make_jpeg()), "cat.jpg")},
                       content_type="multipart/form-data")
    assert resp.status_code == 400


def test_form_upload_of_non_image_shows_the_reason(client):
    resp = client.post("/analyses", data={"csrf_token": csrf_token(client),
                                          "file": (io.BytesIO(b"not an image at all"), "x.jpg")},
                       content_type="multipart/form-data")
    assert resp.status_code == 415
    assert "unsupported file type" in resp.get_data(as_text=True)


def _done_analysis(app, **fields) -> Analysis:
    hostile = '<script>alert("x")</script>'
    a = Analysis(filename=f"{hostile}.jpg", sha256="ab" * 32, media_type="image/jpeg", size_bytes=10,
                 width=4000, height=3000, status=Status.DONE, verdict="fake", fake_probability=0.9,
                 metadata_score=0.1, model_version="f" * 64,
                 result={"reasons": [hostile], "evidence": [], "maps": []},
                 file_metadata={"EXIF": {"Make": hostile, "Model": "X"}, "File": {"FileType": "JPEG"}}, **fields)
    with app.extensions["db_sessionmaker"]() as s:
        s.add(a)
        s.commit()
    return a


def test_hostile_metadata_is_escaped_on_every_page(app, client):
    a = _done_analysis(app)
    for url in (f"/analyses/{a.id}", f"/analyses/{a.id}/metadata", "/history"):
        html = client.get(url).get_data(as_text=True)
        assert "<script>alert" not in html, url
        assert "&lt;script&gt;" in html, url


def test_metadata_page_groups_by_family_with_resolution_on_top(app, client):
    a = _done_analysis(app)
    html = client.get(f"/analyses/{a.id}/metadata").get_data(as_text=True)
    assert "4000 × 3000" in html and "12.0" in html
    assert re.search(r"<h2>EXIF <small>\(2\)</small></h2>", html) and "<h2>File <small>(1)</small></h2>" in html


def test_history_lists_newest_first_and_pages(app, client):
    with app.extensions["db_sessionmaker"]() as s:
        for i in range(25):
            s.add(Analysis(filename=f"img{i:02d}.jpg", sha256=f"{i:064x}", media_type="image/jpeg", size_bytes=1))
            s.commit()
    first = client.get("/history").get_data(as_text=True)
    assert "img24.jpg" in first and "img05.jpg" in first and "img04.jpg" not in first
    assert first.index("img24.jpg") < first.index("img23.jpg")
    second = client.get("/history?page=2").get_data(as_text=True)
    assert "img04.jpg" in second and "Page 2 of 2" in second


def test_unknown_analysis_pages_are_404(client):
    for url in ("/analyses/nope", "/analyses/nope/metadata", "/analyses/nope/files/thumbnail.jpg"):
        assert client.get(url).status_code == 404


def test_derived_file_names_cannot_escape(app, client):
    a = _done_analysis(app)
    assert client.get(f"/analyses/{a.id}/files/..%2f..%2fsecret_key").status_code == 404
    assert client.get(f"/analyses/{a.id}/files/thumbnail.jpg").status_code == 409  # asked for, not made yet
    with app.extensions["db_sessionmaker"]() as s:
        s.get(Analysis, a.id).maps_state = "failed"
        s.commit()
    assert client.get(f"/analyses/{a.id}/files/thumbnail.jpg").status_code == 404  # never written
