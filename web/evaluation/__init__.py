"""Verdicts and scores against the reviewers' labels, per model version (page and API)."""
