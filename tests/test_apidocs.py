"""web/core/apidocs.py: the API documentation page and Swagger UI's files, served by the app under its own strict CSP."""
from __future__ import annotations

from web.core import apidocs
from web.core.security import CSP


def test_docs_page_under_the_strict_csp_linked_and_not_in_the_document(app, client):
    resp = client.get("/api/v1/docs")
    assert resp.status_code == 200 and resp.mimetype == "text/html"
    # no exception for Swagger UI: its bundle is a file of ours, started by a file of ours, no inline script
    assert resp.headers["Content-Security-Policy"] == CSP and "unsafe" not in CSP
    html = resp.get_data(as_text=True)
    assert "<script>" not in html and 'data-openapi-url="/api/v1/openapi.json"' in html
    assert 'id="api-docs-link" href="/api/v1/docs"' in html or 'href="/api/v1/docs" id="api-docs-link"' in html
    assert 'href="/api/v1/docs"' in client.get("/").get_data(as_text=True)  # in every page's navigation
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert "/api/v1/analyses" in paths and not any(p.startswith("/api/v1/docs") for p in paths)


def test_docs_page_needs_no_key(overrides):
    from web import create_app

    keyed = create_app(overrides | {"require_api_key": True})
    try:
        assert keyed.test_client().get("/api/v1/docs").status_code == 200
    finally:
        keyed.extensions["db_engine"].dispose()


def test_only_the_pages_assets_are_served_and_cached(client):
    for name in apidocs.ASSETS:
        resp = client.get(f"/api/v1/docs/assets/{name}")
        assert resp.status_code == 200 and len(resp.data) > 100_000
        assert f"max-age={apidocs.ASSET_MAX_AGE}" in resp.headers["Cache-Control"]
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
    for name in ("oauth2-redirect.html", "index.css", "..%2F__init__.py", "VERSION"):
        assert client.get(f"/api/v1/docs/assets/{name}").status_code == 404
