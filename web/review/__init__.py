"""Reviewers' labels on analyses, their export and the audit record of deleted ones (pages and API)."""
