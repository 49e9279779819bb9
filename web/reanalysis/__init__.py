"""Re-analysing an analysis or a batch with the current model, and comparing the results (pages and API)."""
