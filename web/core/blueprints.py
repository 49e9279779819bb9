"""The two kinds of blueprint each capability has: its HTML pages and its part of JSON API v1.

Every API blueprint answers under one prefix, behind the Bearer key, with the API's JSON errors; every page
blueprint serves the keyless local user and can be turned off with WEB_UI=false. Made here, so a capability
cannot forget one of them.
"""
from __future__ import annotations

from flask import Blueprint, current_app, render_template, request

from web.analyses.uploads import UploadError
from web.core import auth, params
from web.core.errors import json_error

API_PREFIX = "/api/v1"
_API_NAMES: set[str] = set()


def api_blueprint(name: str, import_name: str) -> Blueprint:
    """A capability's part of API v1."""
    bp = Blueprint(name, import_name, url_prefix=API_PREFIX)
    bp.before_request(auth.authenticate)
    bp.register_error_handler(params.BadParam, _bad_param)
    bp.register_error_handler(UploadError, _upload_error)
    _API_NAMES.add(name)
    return bp


def is_api(blueprint_name: str | None = None) -> bool:
    """Whether a blueprint (the current request's by default) is part of the API."""
    return (request.blueprint if blueprint_name is None else blueprint_name) in _API_NAMES


def page_blueprint(name: str, import_name: str) -> Blueprint:
    """A capability's HTML pages, with the templates in its package's templates/ folder."""
    bp = Blueprint(name, import_name, template_folder="templates")
    bp.before_request(_ui_enabled)
    return bp


def _bad_param(exc: params.BadParam):
    return json_error(400, str(exc))


def _upload_error(exc: UploadError):
    response = json_error(exc.status, exc.message)
    if exc.retry_after:
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


def _ui_enabled():
    """WEB_UI=false turns the pages (the keyless local user's interface) off; the API stays."""
    if not current_app.config["SETTINGS"].web_ui:
        return render_template("error.html", status=403,
                               message="The web interface is turned off on this server (WEB_UI=false); use the API "
                                       "with a key."), 403
    return None
