"""An analysis's report to keep: the printable page and its JSON (pages and API)."""
