"""The HTTP edge: the FastAPI app (`ingest.http.app.create_app`) with token auth, rate limits
and validation. Errors carry their HTTP status and become JSON in one place."""
