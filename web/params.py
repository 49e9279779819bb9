"""Query-argument parsing shared by the API and the history page; bad values become a 400 with a message."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import Flask, request
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import BadRequest

from shared.models import Batch
from web.services import SORTS, Filters

VERDICTS = ("real", "uncertain", "fake")
STATUSES = ("queued", "running", "done", "failed")
MAX_PAGE = 1_000_000
IDEMPOTENCY_KEY_MAX = Batch.__table__.c.idempotency_key.type.length  # the column's length, defined once


class BadParam(ValueError):
    """A query argument that cannot be used; the message says which and why."""


def _date(args: MultiDict, name: str) -> datetime | None:
    raw = args.get(name)
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise BadParam(f"{name} must be an ISO 8601 date or date-time, e.g. 2026-01-31") from None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _choice(args: MultiDict, name: str, allowed: tuple[str, ...]) -> str | None:
    value = args.get(name) or None
    if value is not None and value not in allowed:
        raise BadParam(f"{name} must be one of {', '.join(allowed)}")
    return value


def filters(args: MultiDict) -> Filters:
    """History filters from query arguments."""
    provenance = args.get("has_provenance") or None
    if provenance is not None and provenance not in ("true", "false"):
        raise BadParam("has_provenance must be true or false")
    sort = args.get("sort") or "-created_at"
    if sort.lstrip("-") not in SORTS:
        raise BadParam(f"sort must be one of {', '.join(SORTS)} (prefix - for descending)")
    return Filters(verdict=_choice(args, "verdict", VERDICTS), status=_choice(args, "status", STATUSES),
                   filename=(args.get("filename") or None), batch_id=(args.get("batch") or None),
                   has_provenance=None if provenance is None else provenance == "true",
                   created_after=_date(args, "created_after"), created_before=_date(args, "created_before"),
                   sort=sort)


def paging(args: MultiDict, default: int) -> tuple[int, int]:
    """(page, per_page) with per_page capped at 100."""
    try:
        page = int(args.get("page", 1))
        per_page = int(args.get("per_page", default))
    except ValueError:
        raise BadParam("page and per_page must be integers") from None
    if not 1 <= page <= MAX_PAGE or not 1 <= per_page <= 100:
        raise BadParam(f"page must be between 1 and {MAX_PAGE:,} and per_page between 1 and 100")
    return page, per_page


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
