"""ingest: lands with its issue."""
