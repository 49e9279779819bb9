"""Errors: JSON under /api, an HTML page elsewhere; never a bare 500 for bad input."""
from __future__ import annotations

from flask import Flask, jsonify, make_response, render_template, request
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException

from shared.db import MIGRATE_COMMAND, TRANSIENT_SQLSTATES, is_unmigrated
from shared.storage import Unavailable
from web.core.forms import FIELD_PARTS, TooManyParts


def json_error(status: int, message: str):
    """A JSON error body with its status."""
    response = jsonify({"error": message, "status": status})
    response.status_code = status
    return response


def wants_json() -> bool:
    """The API, and a page's script that asked for JSON (Accept: application/json), get JSON errors."""
    return request.path.startswith("/api/") or \
        request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json"


BATCH_UPLOADS = ("batches_api.create_batch", "batches.create_batch")  # their body limit is MAX_BATCH_MB


MESSAGES = {
    400: "The request was not understood.",
    404: "Nothing here: unknown address or id.",
    405: "That method is not allowed here.",
    413: "The upload is too large.",
    415: "Unsupported file type.",
    503: "A service this page needs is unavailable; try again shortly.",
}


def init_app(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        status = exc.code or 500
        if status == 413:
            settings = app.config["SETTINGS"]
            batch = request.endpoint in BATCH_UPLOADS
            if isinstance(exc, TooManyParts):
                message = exc.description + (f": a batch takes at most {exc.limit - FIELD_PARTS:,} files (its key's "
                                             "limit); send the rest in another batch" if batch else "")
            else:
                message = (f"the upload is larger than the {settings.max_batch_mb} MB limit of a batch" if batch
                           else f"the upload is larger than the {settings.max_upload_mb} MB limit")
        else:
            message = exc.description if status in (400, 405) else MESSAGES.get(status, exc.name)
        if wants_json():
            return json_error(status, message)
        return render_template("error.html", status=status, message=message), status

    @app.errorhandler(DBAPIError)
    def database_down(exc: DBAPIError):
        if is_unmigrated(exc):
            app.logger.error("the database is not migrated: %s", exc.orig)
            return unavailable(f"the database is not migrated to this version: run `{MIGRATE_COMMAND}` "
                               "(make run and Compose's migrate service do it), then reload")
        transient = getattr(exc.orig, "sqlstate", None) in TRANSIENT_SQLSTATES  # deadlock: retrying succeeds
        if not (exc.connection_invalidated or transient) and "connect" not in str(exc.orig).lower() \
                and not _is_lock(exc):
            return unexpected(exc)
        app.logger.warning("database unavailable: %s", exc.orig)
        return unavailable("the database is unavailable; try again shortly")

    @app.errorhandler(Unavailable)
    def store_down(exc: Unavailable):
        app.logger.warning("object store unavailable: %s", exc)
        return unavailable(f"{exc}; try again shortly")

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        app.logger.exception("unhandled error")
        message = "internal error; it has been logged"
        if wants_json():
            return json_error(500, message)
        return render_template("error.html", status=500, message=message), 500


def unavailable(message: str):
    """503 with Retry-After: a service this request needs is away for now."""
    if wants_json():
        response = json_error(503, message)
    else:
        response = make_response(render_template("error.html", status=503, message=message), 503)
    response.headers["Retry-After"] = "5"
    return response


def _is_lock(exc: DBAPIError) -> bool:
    return "database is locked" in str(exc.orig)
