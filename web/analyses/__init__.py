"""One image: upload, result, metadata, history, delete, derived files and preview (pages and API)."""
