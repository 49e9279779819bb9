"""Text bound for a CSV that people open in spreadsheets, written by the web's downloads and the submit client."""
from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe(value: object) -> object:
    """Neutralise spreadsheet formulas in user-controlled text (CSV injection)."""
    if isinstance(value, str) and value[:1] in FORMULA_STARTS:
        return "'" + value
    return value
