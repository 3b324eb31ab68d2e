"""The HTTP edge: the FastAPI app served by uvicorn, inside `sensorbot run` and on Lambda
(ingest.app.create_app) — ranchdata's v1/v2 routes, v3, health — with token auth, rate
limits and validation. Errors carry their HTTP status and become JSON in one place."""
