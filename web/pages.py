"""HTML pages: upload, result (polls the API), metadata, history, and derived images."""
from __future__ import annotations

import re

from flask import Blueprint, abort, current_app, redirect, render_template, request, send_file, url_for

from shared import storage
from shared.images import ACCEPTED
from web import services
from web.db import get_session

bp = Blueprint("pages", __name__)
_DERIVED_NAME = re.compile(r"^[a-z0-9_]{1,40}\.(png|jpg)$")


@bp.get("/")
def index():
    """The upload page."""
    return render_template("index.html", accepted=ACCEPTED,
                           max_mb=current_app.config["SETTINGS"].max_upload_mb)


@bp.post("/analyses")
def upload():
    """Form upload: store, enqueue, and go straight to the result page."""
    settings = current_app.config["SETTINGS"]
    try:
        analysis = services.submit(get_session(), request.files.get("file"), settings)
    except services.UploadError as exc:
        return render_template("index.html", accepted=ACCEPTED, max_mb=settings.max_upload_mb,
                               error=exc.message), exc.status
    return redirect(url_for("pages.result", analysis_id=analysis.id), code=303)


def _analysis_or_404(analysis_id: str, **load):
    analysis = services.get_analysis(get_session(), analysis_id, **load)
    if analysis is None:
        abort(404)
    return analysis


@bp.get("/analyses/<analysis_id>")
def result(analysis_id: str):
    """The result page; its script polls the status endpoint until the verdict is in."""
    return render_template("result.html", analysis=_analysis_or_404(analysis_id, with_result=True))


@bp.get("/analyses/<analysis_id>/metadata")
def metadata(analysis_id: str):
    """Every metadata tag exiftool found, grouped by family (values are escaped by Jinja)."""
    analysis = _analysis_or_404(analysis_id, with_metadata=True, with_result=True)
    highlighted = {e.get("source") for e in (analysis.result or {}).get("evidence", [])
                   if e.get("kind") == "metadata_score"}
    return render_template("metadata.html", analysis=analysis, groups=analysis.file_metadata or {},
                           highlighted=highlighted)


@bp.get("/history")
def history():
    """Past analyses, newest first."""
    settings = current_app.config["SETTINGS"]
    page = services.list_analyses(get_session(), request.args.get("page", 1, type=int), settings.page_size)
    return render_template("history.html", page=page)


@bp.get("/analyses/<analysis_id>/files/<name>")
def derived_file(analysis_id: str, name: str):
    """A thumbnail or forensic map the worker made for this analysis."""
    if not _DERIVED_NAME.match(name):
        abort(404)
    analysis = _analysis_or_404(analysis_id)
    path = storage.derived_dir(current_app.config["SETTINGS"].upload_dir, analysis.sha256) / name
    if not path.is_file():
        abort(404)
    mimetype = "image/png" if name.endswith(".png") else "image/jpeg"
    response = send_file(path, mimetype=mimetype, max_age=3600)
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response
