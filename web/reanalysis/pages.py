"""Re-analysis pages for the keyless local user: the buttons' forms, and the comparison the result page shows."""
from __future__ import annotations

from flask import abort, current_app, flash, jsonify, redirect, render_template, url_for

from web.analyses.pages import OWNER, analysis_or_404
from web.batches import services as batches
from web.core.blueprints import page_blueprint
from web.core.db import get_session
from web.reanalysis import services as reanalysis
from web.reanalysis.api import comparison as comparison_body

bp = page_blueprint("reanalysis", __name__)


def _refused(exc: reanalysis.CannotReanalyse):
    return render_template("error.html", status=exc.status, message=exc.message), exc.status


@bp.post("/analyses/<analysis_id>/reanalyse")
def reanalyse(analysis_id: str):
    """The result page's re-analyse button (CSRF-protected): to the new analysis's page, which compares."""
    try:
        new, created = reanalysis.reanalyse(get_session(), analysis_or_404(analysis_id),
                                            current_app.config["SETTINGS"], OWNER)
    except reanalysis.CannotReanalyse as exc:
        return _refused(exc)
    # removed by the page once the verdict is in (a "while-running" flash)
    flash("Re-analysing with the current model." if created else "This re-analysis was already under way.",
          "while-running")
    return redirect(url_for("analyses.result", analysis_id=new.id), code=303)


@bp.post("/batches/<batch_id>/reanalyse")
def reanalyse_batch(batch_id: str):
    """The batch page's re-analyse button: a new batch, whose page shows its progress."""
    batch = batches.get(get_session(), batch_id, OWNER)
    if batch is None:
        abort(404)
    try:
        new, created = reanalysis.reanalyse_batch(get_session(), batch, current_app.config["SETTINGS"], OWNER)
    except reanalysis.CannotReanalyse as exc:
        return _refused(exc)
    flash("Re-analysing the batch with the current model." if created else
          "This batch's re-analysis was already under way.", "while-running")
    return redirect(url_for("batches.batch", batch_id=new.id), code=303)


@bp.get("/analyses/<analysis_id>/comparison")
def comparison(analysis_id: str):
    """What the result page of a re-analysis fetches once its verdict is in (GET /api/v1/analyses/<id>/comparison)."""
    found = comparison_body(analysis_id, OWNER)
    return found if not isinstance(found, dict) else jsonify(found)
