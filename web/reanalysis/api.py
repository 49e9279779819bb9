"""JSON API v1: re-analyse one of the caller's analyses, or a whole batch, with the current model; compare."""
from __future__ import annotations

from flask import Response, current_app, jsonify, request, url_for

from web.analyses import services
from web.analyses.api import analysis_json
from web.batches import services as batches
from web.core import auth, schemas, serialize
from web.core.blueprints import api_blueprint
from web.core.db import get_session
from web.core.errors import json_error
from web.core.openapi import responses, spec
from web.reanalysis import compare
from web.reanalysis import schemas as schemas_reanalysis
from web.reanalysis import services as reanalysis

bp = api_blueprint("reanalysis_api", __name__)


def _answer(body: dict, created: bool, location: str) -> Response:
    """202 with what was made, or 200 with what an earlier identical request made (Idempotent-Replayed)."""
    response = jsonify(body)
    response.status_code = 202 if created else 200
    response.headers["Location"] = location
    if not created:
        response.headers["Idempotent-Replayed"] = "true"
    return response


@bp.post("/analyses/<analysis_id>/reanalyse")
@spec.validate(headers=schemas.BatchHeaders,
               resp=responses(HTTP_202=schemas.AnalysisDetail, HTTP_200=schemas.AnalysisDetail, HTTP_410=schemas.Error))
def reanalyse(analysis_id: str):
    """Run one of the caller's analyses again with the current model, as a new analysis linked to it.

    An unfinished re-analysis of it, or the one an earlier request with the same Idempotency-Key made, is the
    answer (200) instead of a second one. 409 while it is unfinished or when it has no stored image, 410 once its
    image was purged.
    """
    session = get_session()
    analysis = services.get_analysis(session, analysis_id, auth.current_key())
    if analysis is None:
        return json_error(404, f"no analysis with id {analysis_id!r}")
    new, created = reanalysis.reanalyse(session, analysis, current_app.config["SETTINGS"], auth.current_key(),
                                        request.headers.get("Idempotency-Key"))
    return _answer(analysis_json(new, auth.current_key()), created,
                   url_for("analyses_api.get_analysis", analysis_id=new.id))


@bp.post("/batches/<batch_id>/reanalyse")
@spec.validate(headers=schemas.BatchHeaders,
               resp=responses(HTTP_202=schemas.BatchOut, HTTP_200=schemas.BatchOut, HTTP_410=schemas.Error))
def reanalyse_batch(batch_id: str):
    """Re-analyse every analysis of one of the caller's finished batches, as a new batch (on the bulk queue).

    Items that cannot be re-analysed become failed analyses with the reason; 409/410 when none can be.
    """
    session = get_session()
    batch = batches.get(session, batch_id, auth.current_key())
    if batch is None:
        return json_error(404, f"no batch with id {batch_id!r}")
    new, created = reanalysis.reanalyse_batch(session, batch, current_app.config["SETTINGS"], auth.current_key(),
                                              request.headers.get("Idempotency-Key"))
    return _answer(serialize.batch_summary(new, batches.counts(session, new)), created,
                   url_for("batches_api.get_batch", batch_id=new.id))


@bp.get("/analyses/<analysis_id>/comparison")
@spec.validate(resp=responses(HTTP_200=schemas_reanalysis.Comparison))
def get_comparison(analysis_id: str):
    """A re-analysis beside the analysis it ran again: verdicts, scores, each detector, evidence, model version."""
    found = comparison(analysis_id, auth.current_key())
    return found if isinstance(found, Response) else jsonify(found)


def comparison(analysis_id: str, owner) -> dict | Response:  # noqa: ANN001 - ApiKey | None
    """The comparison body, or a 404 naming why there is none (the pages' poll uses it too)."""
    session = get_session()
    new = services.get_analysis(session, analysis_id, owner, with_result=True)
    if new is None:
        return json_error(404, f"no analysis with id {analysis_id!r}")
    old = new.reanalysis_of and services.get_analysis(session, new.reanalysis_of, owner, with_result=True)
    if not old:
        return json_error(404, f"analysis {analysis_id} is not a re-analysis (or the analysis it re-ran was deleted)")
    return compare.compare(old, new)
