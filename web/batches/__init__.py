"""Batches of many images: upload, progress, past batches, exports (pages and API)."""
