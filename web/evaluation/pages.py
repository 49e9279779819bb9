"""The evaluation page for the keyless local user: verdicts and scores against the labels."""
from __future__ import annotations

from flask import render_template

from shared import labels
from web.analyses.pages import OWNER
from web.core.blueprints import page_blueprint
from web.core.db import get_session
from web.evaluation import services as evaluation

bp = page_blueprint("evaluation", __name__)


@bp.get("/evaluation")
def evaluation_page():
    """Verdicts and detector scores against the labels, per model version."""
    return render_template("evaluation.html", figures=evaluation.evaluate(get_session(), OWNER),
                           verdicts=evaluation.VERDICTS, rule=labels.RULE)
