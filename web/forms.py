"""Multipart bodies Werkzeug cannot parse are a precise 400, not an empty form ("no file was sent")."""
from __future__ import annotations

from typing import Any

from flask import Request
from werkzeug.exceptions import BadRequest
from werkzeug.formparser import FormDataParser


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


class StrictRequest(Request):
    form_data_parser_class = StrictFormDataParser
