"""JSON API v1: the evaluation of verdicts and scores against the caller's labels."""
from __future__ import annotations

from flask import jsonify

from web.core import auth
from web.core.blueprints import api_blueprint
from web.core.db import get_session
from web.core.openapi import responses, spec
from web.evaluation import services as evaluation
from web.review import schemas

bp = api_blueprint("evaluation_api", __name__)


@bp.get("/evaluation")
@spec.validate(resp=responses(HTTP_200=schemas.Evaluation))
def get_evaluation():
    """Verdicts and scores against the caller's labels, per model version: confusion matrix, FPR/TPR, ROC-AUC."""
    return jsonify(evaluation.evaluate(get_session(), auth.current_key()))
