"""HTML pages for the local user: upload, result, metadata, history, delete, derived images; the result page's poll."""
from __future__ import annotations

from flask import abort, current_app, flash, jsonify, make_response, redirect, render_template, request, url_for

from shared import archive, images, labels, levels, privacy, reverse_search, signals
from shared.images import ACCEPTED
from shared.models import LABEL_NOTE_MAX
from web.analyses import services
from web.analyses.api import analysis_json, upload_fields
from web.analyses.uploads import UploadError
from web.core import params, serialize
from web.core.blueprints import page_blueprint
from web.core.db import get_session
from web.core.errors import json_error, wants_json
from web.reanalysis import services as reanalysis

bp = page_blueprint("analyses", __name__)
OWNER = None  # pages serve the local anonymous user; API keys see their own work through the API


def _settings():
    return current_app.config["SETTINGS"]


def upload_page(error: UploadError | None = None):
    """The upload page, with the limits and file types its script checks before sending (the server decides)."""
    settings = _settings()
    page = render_template("index.html", accepted=ACCEPTED, max_mb=settings.max_upload_mb,
                           max_files=settings.max_batch_files, max_batch_mb=settings.max_batch_mb,
                           file_types={"images": images.EXTENSIONS_LIST, "archives": archive.EXTENSIONS},
                           error=error.message if error else None)
    return (page, error.status) if error else page


@bp.get("/favicon.ico")
def favicon():
    """For what asks the conventional path (a JSON page, a feed reader); the pages link the SVG itself."""
    return current_app.send_static_file("favicon.svg")


@bp.get("/")
def index():
    """The upload page: one image, several, a folder or a ZIP (web/static/upload.js)."""
    return upload_page()


@bp.post("/analyses")
def upload():
    """Form upload: store, enqueue, and go straight to the result page (its script asks for JSON instead)."""
    settings = _settings()
    request.max_content_length = settings.max_upload_bytes + 64 * 1024
    try:
        fields = upload_fields()  # a file, or a link the server fetches (the form's `url`)
        if fields.url is not None:
            analysis = services.submit_link(get_session(), fields.url, settings, OWNER)
        else:
            analysis = services.submit(get_session(), fields.file, settings, OWNER)
    except UploadError as exc:
        response = make_response(json_error(exc.status, exc.message) if wants_json() else upload_page(exc))
        if exc.retry_after:
            response.headers["Retry-After"] = str(exc.retry_after)
        return response
    if wants_json():
        return jsonify(serialize.summary(analysis)), 202
    return redirect(url_for("analyses.result", analysis_id=analysis.id), code=303)


def analysis_or_404(analysis_id: str, **load):
    analysis = services.get_analysis(get_session(), analysis_id, OWNER, **load)
    if analysis is None:
        abort(404)
    return analysis


@bp.get("/analyses/<analysis_id>/status")
def analysis_status(analysis_id: str):
    """What the result page polls: the same body as GET /api/v1/analyses/<id> (private values hidden).

    The pages must not poll the keyed API: with REQUIRE_API_KEY=true and WEB_UI=true (the shipped compose file) the
    API answers 401 to the browser, and a result page would wait for its verdict forever.
    """
    return jsonify(analysis_json(analysis_or_404(analysis_id, with_result=True), OWNER))


@bp.get("/analyses/<analysis_id>")
def result(analysis_id: str):
    """The result page; its script polls the status endpoint until the verdict is in."""
    analysis = analysis_or_404(analysis_id, with_result=True)
    services.request_maps(get_session(), analysis)  # a batch's item opened: its maps are made now
    similar = services.similar(get_session(), analysis, OWNER)
    return render_template("result.html", analysis=analysis, similar=similar, signals=signals.as_data(),
                           labels=labels.history(get_session(), analysis.id), label_choices=labels.LABELS,
                           note_max=LABEL_NOTE_MAX,
                           reverse_search=reverse_search.links(analysis.source_final_url or analysis.source_url),
                           **reanalysis.page_context(get_session(), analysis, _settings()))


@bp.get("/analyses/<analysis_id>/delete")
def confirm_delete(analysis_id: str):
    """What a delete removes and what it keeps, with the button that does it: nothing is deleted on one click."""
    analysis = analysis_or_404(analysis_id)
    return render_template("delete.html", analysis=analysis, labels=labels.history(get_session(), analysis.id))


@bp.post("/analyses/<analysis_id>/delete")
def delete(analysis_id: str):
    """Delete an analysis with its files once confirmed (CSRF-protected form); its labels go to the audit record.

    A post without confirm=yes (an old page's button) gets the question instead of the delete.
    """
    if request.form.get("confirm") != "yes":
        return confirm_delete(analysis_id)
    services.delete_analysis(get_session(), analysis_or_404(analysis_id), _settings(), OWNER)
    flash("The analysis and its files were deleted; its labels are kept in the audit record.")
    return redirect(url_for("analyses.history"), code=303)


@bp.get("/analyses/<analysis_id>/metadata")
def metadata(analysis_id: str):
    """Every metadata tag exiftool found, grouped by family (values are escaped by Jinja)."""
    analysis = analysis_or_404(analysis_id, with_metadata=True, with_result=True)
    highlighted = {e.get("source") for e in (analysis.result or {}).get("evidence", [])
                   if e.get("kind") == "metadata_score"}
    show_private = request.args.get("private") == "true"
    groups, hidden = analysis.file_metadata or {}, 0
    if not show_private:
        groups, hidden = privacy.redact_groups(groups)
    return render_template("metadata.html", analysis=analysis, groups=groups, highlighted=highlighted,
                           hidden=hidden, show_private=show_private)


@bp.get("/history")
def history():
    """Past analyses with filters, newest first by default."""
    try:
        filters = params.filters(request.args)
        page_no, _ = params.paging(request.args, _settings().page_size)
    except params.BadParam as exc:
        return render_template("error.html", status=400, message=str(exc)), 400
    page = services.list_analyses(get_session(), page_no, _settings().page_size, OWNER, filters)
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template("history.html", page=page, args=args, verdicts=params.VERDICTS, levels=levels.LEVELS,
                           level_labels={lv.name: lv.label for lv in levels.LEVELS},
                           sorts=services.SORTS, label_choices=labels.LABELS,
                           model_versions=services.model_versions(get_session(), OWNER),
                           current=labels.current_for(get_session(), [a.id for a in page.items]))


@bp.get("/analyses/<analysis_id>/files/<name>")
def derived_file(analysis_id: str, name: str):
    """A thumbnail or forensic map the worker made for this analysis."""
    try:
        return services.send_derived(services.derived_or_raise(get_session(), analysis_or_404(analysis_id), name,
                                                               _settings()))
    except services.NoFile as exc:
        return render_template("error.html", status=exc.status, message=exc.message), exc.status


@bp.get("/analyses/<analysis_id>/preview")
def preview(analysis_id: str):
    """The image itself, upright and downscaled, for the top of the result page."""
    try:
        return services.send_preview(analysis_or_404(analysis_id), _settings())
    except services.NoPreview as exc:
        return render_template("error.html", status=exc.status, message=exc.message), exc.status
