"""Query-argument parsing shared by the API and the history page, through the models of web/core/schemas.py; bad
values become a 400 with a message. Also the app-wide NUL check and the text-field check of forms and headers."""
from __future__ import annotations

from flask import Flask, request
from pydantic import BaseModel, ValidationError
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import BadRequest

from web.analyses.services import Filters
from web.core import schemas

VERDICTS = schemas.VERDICTS
IDEMPOTENCY_KEY_MAX = schemas.IDEMPOTENCY_KEY_MAX


class BadParam(ValueError):
    """A query argument that cannot be used; the message says which and why."""


def parse(model: type[BaseModel], args: MultiDict):
    """Query arguments through one of the request models; a 400 (BadParam) naming what is wrong."""
    try:
        return model.model_validate(args.to_dict())
    except ValidationError as exc:
        raise BadParam(schemas.problems(exc.errors())) from None


def filters(args: MultiDict) -> Filters:
    """History filters from query arguments."""
    q = parse(schemas.AnalysisFilters, args)
    return Filters(verdict=q.verdict, level=q.level, status=q.status, filename=q.filename, batch_id=q.batch,
                   has_provenance=None if q.has_provenance is None else q.has_provenance == "true",
                   created_after=schemas.parse_date(q.created_after) if q.created_after else None,
                   created_before=schemas.parse_date(q.created_before) if q.created_before else None,
                   sort=q.sort, label=q.label, disagrees=None if q.disagrees is None else q.disagrees == "true",
                   model_version=q.model_version)


def paging(args: MultiDict, default: int) -> tuple[int, int]:
    """(page, per_page) with per_page capped at 100."""
    q = parse(schemas.Paging, args)
    return q.page, q.per_page or default


def text_field(value: str | None, name: str, max_length: int | None = None) -> str | None:
    """A text value from a form or header: no NUL byte (PostgreSQL text cannot hold one), at most max_length."""
    if value is None:
        return None
    if "\x00" in value:
        raise BadParam(f"{name} must not contain a NUL byte")
    if max_length is not None and len(value) > max_length:
        raise BadParam(f"{name} must be at most {max_length} characters")
    return value


def _reject_nul() -> None:
    """Before every request: a NUL in a path segment or query argument is a 400, before any query runs."""
    pairs = [*(request.view_args or {}).items(), *request.args.items(multi=True)]
    for name, value in pairs:
        if "\x00" in name or "\x00" in str(value):
            raise BadRequest(f"{name!r} must not contain a NUL byte")


def init_app(app: Flask) -> None:
    app.before_request(_reject_nul)
