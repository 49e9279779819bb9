"""Evidence extractors: plain functions from a file (and its exiftool metadata) to evidence items."""
