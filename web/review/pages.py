"""Review pages for the keyless local user: label an analysis from its result page."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from pydantic import ValidationError

from web.analyses.pages import OWNER, analysis_or_404
from web.core import schemas
from web.core.blueprints import page_blueprint
from web.core.db import get_session
from web.review import schemas as schemas_review
from web.review import services as review

bp = page_blueprint("review", __name__)


@bp.post("/analyses/<analysis_id>/labels")
def label(analysis_id: str):
    """The result page's label form (CSRF-protected); back to the result page."""
    analysis = analysis_or_404(analysis_id)
    try:
        body = schemas_review.LabelIn.model_validate({k: v for k, v in request.form.items() if k != "csrf_token"})
    except ValidationError as exc:
        return render_template("error.html", status=400, message=schemas.problems(exc.errors())), 400
    review.set_label(get_session(), analysis, body.label, body.note, OWNER)
    flash(f"Labelled {body.label}.")
    return redirect(url_for("analyses.result", analysis_id=analysis.id), code=303)

