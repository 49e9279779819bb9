"""JSON API v1: analyses (single images): upload, status and result, list, derived files, preview, delete."""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, jsonify, request, url_for
from werkzeug.datastructures import FileStorage

from web.analyses import services
from web.analyses.uploads import UploadError
from web.batches.services import check_callback
from web.core import auth, params, schemas, serialize
from web.core.blueprints import api_blueprint
from web.core.db import get_session
from web.core.errors import json_error
from web.core.openapi import documented, responses, spec
from web.core.params import text_field
from web.reanalysis import services as reanalysis
from web.review import services as review

bp = api_blueprint("analyses_api", __name__)


@bp.before_request
def _body_limit() -> None:
    """A single upload's body limit, set before anything (the request models included) reads the body."""
    if request.endpoint == "analyses_api.create_analysis":
        request.max_content_length = current_app.config["SETTINGS"].max_upload_bytes + 64 * 1024


@bp.post("/analyses")
@spec.validate(form=schemas.AnalysisUpload, json=schemas.AnalysisLinkUpload,
               resp=responses(HTTP_202=schemas.AnalysisSummary, HTTP_422=schemas.Error, HTTP_502=schemas.Error,
                              HTTP_504=schemas.Error))
def create_analysis():
    """Accept one image: the multipart field `file`, or a link in `url` (a form field, or the JSON body
    {"url": ...}) that the server fetches; optional `callback_url`. 202 with its id and where to poll.

    Exactly one of `file` and `url`. A link is fetched within the request: redirects followed and every hop's
    address checked (private, loopback and other special addresses refused), one time limit for the whole fetch,
    the upload's size limit counted while the body streams. Then its bytes are handled exactly as an upload.
    400 a bad or forbidden link, 413 too large, 415 not an image, 422 a link that leads to no image (its host does
    not resolve, it answers 4xx, too many redirects), 502 a remote that fails, 504 one too slow, 503 (Retry-After)
    when the server is fetching as many links as it fetches at once.
    """
    settings = current_app.config["SETTINGS"]
    fields = upload_fields()
    callback = check_callback(fields.callback_url, settings)
    if fields.url is not None:
        analysis = services.submit_link(get_session(), fields.url, settings, auth.current_key(), callback)
    else:
        analysis = services.submit(get_session(), fields.file, settings, auth.current_key(), callback)
    response = jsonify(serialize.summary(analysis))
    response.status_code = 202
    response.headers["Location"] = url_for("analyses_api.get_analysis", analysis_id=analysis.id)
    return response


@dataclass
class UploadFields:
    file: FileStorage | None
    url: str | None
    callback_url: str | None


def upload_fields() -> UploadFields:
    """The image a request sends: a file or a link (form fields, or a JSON body), exactly one; UploadError 400."""
    if request.is_json:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise UploadError(400, 'the JSON body must be an object such as {"url": "https://example.org/a.jpg"}')
        url, callback = body.get("url"), body.get("callback_url")
        if (url is not None and not isinstance(url, str)) or (callback is not None and not isinstance(callback, str)):
            raise UploadError(400, "url and callback_url must be strings")
        file = None
    else:
        url, callback, file = request.form.get("url"), request.form.get("callback_url"), request.files.get("file")
    try:
        url = text_field(url.strip() or None, "url", schemas.LINK_URL_MAX) if url is not None else None
    except params.BadParam as exc:
        raise UploadError(400, str(exc)) from None
    if file is not None and url is not None:
        raise UploadError(400, "send either a file (the multipart field 'file') or a link (the field 'url'), "
                               "not both")
    if file is None and url is None:
        raise UploadError(400, "no image was sent: use the multipart field 'file' for a file, or the field 'url' "
                               '(a form field, or the JSON body {"url": "https://…"}) for a link')
    return UploadFields(file, url, callback or None)


@bp.get("/analyses/<analysis_id>")
@spec.validate(query=schemas.Private, resp=responses(HTTP_200=schemas.AnalysisDetail))
def get_analysis(analysis_id: str):
    """Status of one analysis and, when done, its full result."""
    analysis = services.get_analysis(get_session(), analysis_id, auth.current_key(), with_result=True)
    if analysis is None:
        return json_error(404, f"no analysis with id {analysis_id!r}")
    return jsonify(analysis_json(analysis, auth.current_key(), private=request.args.get("private") == "true"))


def analysis_json(analysis, owner, private: bool = False) -> dict:
    """The status body of an analysis with its near-duplicates and re-analysis links (the API and the page's poll)."""
    body = serialize.detail(analysis, private=private)
    body["similar"] = [serialize.similar(a, d) for a, d in services.similar(get_session(), analysis, owner)]
    if analysis.callback_url:
        body["webhook_deliveries"] = [serialize.delivery(d) for d in services.deliveries(get_session(), analysis)]
    return body | reanalysis.links(get_session(), analysis)


@bp.get("/analyses/<analysis_id>/files/<name>")
@documented(resp=responses(HTTP_200=None, HTTP_410=schemas.Error))  # an image; 409 while the maps are made
def derived_file(analysis_id: str, name: str):
    """A thumbnail or forensic map of one of the caller's analyses (asking for the maps if nobody had).

    404 unknown or deleted, 410 purged, 409 while the maps are being made.
    """
    analysis = services.get_analysis(get_session(), analysis_id, auth.current_key())
    if analysis is None:
        return json_error(404, f"no analysis with id {analysis_id!r}")
    try:
        return services.send_derived(services.derived_or_raise(get_session(), analysis, name,
                                                               current_app.config["SETTINGS"]))
    except services.NoFile as exc:
        return json_error(exc.status, exc.message)


@bp.get("/analyses/<analysis_id>/preview")
@documented(resp=responses(HTTP_200=None, HTTP_410=schemas.Error, HTTP_422=schemas.Error))  # a JPEG
def preview(analysis_id: str):
    """The analysed image upright (EXIF orientation applied), at most 1024 px on its long side, as a JPEG."""
    analysis = services.get_analysis(get_session(), analysis_id, auth.current_key())
    if analysis is None:
        return json_error(404, f"no analysis with id {analysis_id!r}")
    try:
        return services.send_preview(analysis, current_app.config["SETTINGS"])
    except services.NoPreview as exc:
        return json_error(exc.status, exc.message)


@bp.delete("/analyses/<analysis_id>")
@spec.validate(resp=responses(HTTP_204=None))
def delete_analysis(analysis_id: str):
    """Delete an analysis, its maps and its upload."""
    session = get_session()
    analysis = services.get_analysis(session, analysis_id, auth.current_key())
    if analysis is None:
        return json_error(404, f"no analysis with id {analysis_id!r}")
    services.delete_analysis(session, analysis, current_app.config["SETTINGS"], auth.current_key())
    return "", 204


@bp.get("/analyses")
@spec.validate(query=schemas.AnalysisFilters, resp=responses(HTTP_200=schemas.AnalysisList))
def list_analyses():
    """Past analyses with filters (verdict, label, disagrees, model_version, status, filename, batch, provenance,
    dates)."""
    page, per_page = params.paging(request.args, current_app.config["SETTINGS"].page_size)
    result = services.list_analyses(get_session(), page, per_page, auth.current_key(), params.filters(request.args))
    return jsonify({"items": review.summaries(get_session(), result.items), "page": result.page,
                    "per_page": result.per_page, "total": result.total, "pages": result.pages})
