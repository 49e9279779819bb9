"""The API's interactive documentation: Swagger UI on the OpenAPI document, at /api/v1/docs.

Swagger UI's files come from the flask-swagger-ui package (a weekly-updated copy of swagger-ui-dist; only its
files are used, not its blueprint, whose page configures Swagger UI in an inline script that our CSP forbids).
They are served from here, never a CDN, so the page works offline; our own script (static/apidocs.js) starts it.
The page is not an operation of the API, so it is not in the document it shows.
"""
from __future__ import annotations

from pathlib import Path

import flask_swagger_ui
from flask import Blueprint, abort, render_template, send_from_directory

DIST = Path(flask_swagger_ui.__file__).parent / "dist"
ASSETS = ("swagger-ui.css", "swagger-ui-bundle.js")  # all the page loads: the rest of the dist is not served
ASSET_MAX_AGE = 24 * 3600  # the files change only with the package

bp = Blueprint("apidocs", __name__, url_prefix="/api/v1/docs")


@bp.get("")
def page():
    """The documentation page (keyless, as the document is)."""
    return render_template("apidocs.html", version=(DIST / "VERSION").read_text().strip())


@bp.get("/assets/<name>")
def asset(name: str):
    """One of Swagger UI's files."""
    if name not in ASSETS:
        abort(404)
    return send_from_directory(DIST, name, max_age=ASSET_MAX_AGE)
