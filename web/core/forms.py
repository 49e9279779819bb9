"""Multipart bodies Werkzeug cannot parse are a precise 400, not an empty form ("no file was sent"), and a body
over its part limit says so instead of passing for one over the size limit."""
from __future__ import annotations

from typing import Any

from flask import Flask, Request, current_app, request
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge
from werkzeug.formparser import FormDataParser

FIELD_PARTS = 16  # parts a batch may have beside its files: name, callback_url, maps, csrf_token, with room


class TooManyParts(RequestEntityTooLarge):
    """More multipart parts than the request allows (Werkzeug's part limit, a 413 like the size limit)."""

    def __init__(self, limit: int):
        super().__init__(f"the request has more than {limit:,} multipart parts")
        self.limit = limit


def init_app(app: Flask) -> None:
    app.before_request(_batch_part_limit)  # before CSRF, which reads a page's form


def _batch_part_limit() -> None:
    """A batch's part limit follows the files its key (or the keyless user) may send, instead of Werkzeug's 1,000."""
    from web.batches.services import max_batch_files
    from web.core import auth
    from web.core.blueprints import is_api
    from web.core.errors import BATCH_UPLOADS

    if request.endpoint in BATCH_UPLOADS:
        key = auth.resolve()[0] if is_api() else None  # the pages are the keyless user's
        request.max_form_parts = max_batch_files(key, current_app.config["SETTINGS"]) + FIELD_PARTS


def _hit_part_limit(exc: RequestEntityTooLarge) -> bool:
    """Whether Werkzeug raised it for the part count: the same exception covers bytes and text field size, and
    only the raising frame (the decoder's next_event, where parts are counted) tells them apart."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and tb.tb_frame.f_code.co_name == "next_event"


class StrictFormDataParser(FormDataParser):
    """Werkzeug's parser, but a body it cannot read says why instead of silently becoming an empty form."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["silent"] = False
        super().__init__(*args, **kwargs)

    def parse(self, *args: Any, **kwargs: Any):
        try:
            return super().parse(*args, **kwargs)
        except UnicodeDecodeError:
            raise BadRequest("a multipart part's headers are not UTF-8 (e.g. a raw non-UTF-8 file name): send the "
                             "file name UTF-8-encoded, as RFC 7578 says") from None
        except ValueError as exc:
            raise BadRequest(f"the multipart body could not be read: {exc}"[:300]) from None

    def _parse_multipart(self, *args: Any, **kwargs: Any):
        try:
            return super()._parse_multipart(*args, **kwargs)
        except RequestEntityTooLarge as exc:
            if self.max_form_parts is not None and _hit_part_limit(exc):
                raise TooManyParts(self.max_form_parts) from None
            raise


class StrictRequest(Request):
    form_data_parser_class = StrictFormDataParser
