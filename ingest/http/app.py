"""The ASGI application: one object served by uvicorn, inside `sensorbot run`, and on Lambda."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

import core
from core.clock import wall_clock_ms
from core.config import Settings
from ingest.http import devices, ranchdata, v3
from ingest.http.auth import Authenticator
from ingest.http.deps import Services
from ingest.http.draining import DrainUnreadBody
from ingest.http.errors import (
    ApiError,
    BadRequest,
    Forbidden,
    PayloadTooLarge,
    RequestTimeout,
    TooManyRequests,
    Unauthorized,
    Unprocessable,
)
from ingest.http.limits import ReadingRateLimiter
from ingest.http.schemas import ErrorBody, MeasurementIn, ReadingBatchIn, RuuviGatewayIn
from ingest.units import FirstSight
from storage.base import Store
from storage.errors import StorageError, StorageUnavailable

log = logging.getLogger("sensorbot.api")

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in {
        BadRequest.status_code: "The body is empty or not JSON",
        Unauthorized.status_code: "No token, or an unknown or revoked one",
        Forbidden.status_code: "A token of the wrong scope",
        404: "No such route (a sensor id with characters a path cannot carry)",
        RequestTimeout.status_code: "The request did not arrive within [api] "
                                    "request_timeout_seconds (30 s unless configured)",
        PayloadTooLarge.status_code: "The body is over 1 MiB",
        414: "The URL is over 64 KiB",
        Unprocessable.status_code: "Invalid input; `detail` says what and where",
        TooManyRequests.status_code: "Too many readings from this token, or too many failed "
                                     "authentications from this address; see Retry-After",
        StorageUnavailable.status_code: "Storage is unavailable; nothing was stored; "
                                        "see Retry-After",
    }.items()
}


def create_app(settings: Settings, *, store: Store,
               clock_ms: Callable[[], int] = wall_clock_ms) -> FastAPI:
    """Build the app once, on the given store; `clock_ms` is injectable for tests."""
    app = FastAPI(title="sensorbot", version=core.__version__,
                  description="Ingest and read home-sensor readings. See README.md.",
                  responses=ERROR_RESPONSES)
    serve_from(app, settings, store, clock_ms)
    app.include_router(ranchdata.router)
    app.include_router(v3.router)
    app.include_router(devices.router)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.api.cors_origins,
        allow_credentials=False,  # tokens travel in headers; never credentials, least of all with *
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=["Authorization", "X-API-Key", "Content-Type"],
        expose_headers=["Retry-After"],
        max_age=600,
    )
    app.add_middleware(DrainUnreadBody)
    install_error_handlers(app)
    app.openapi = lambda: openapi_schema(app)  # type: ignore[method-assign]
    return app


def serve_from(app: FastAPI, settings: Settings, store: Store,
               clock_ms: Callable[[], int]) -> None:
    """Give the app its services on `store`: all the state its routes read (`app.state`)."""
    app.state.services = Services(store, Authenticator(store, clock_ms),
                                  ReadingRateLimiter(settings.api.max_readings_per_minute),
                                  clock_ms)
    app.state.units = FirstSight(store)


def install_error_handlers(app: FastAPI) -> None:
    """Every failure becomes JSON with a human-readable `detail`, here and nowhere else; the
    status is the one the exception carries."""

    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return reply(exc.status_code, exc.detail, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        return reply(Unprocessable.status_code, describe_validation(exc.errors()))

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        return reply(exc.status_code, str(exc.detail), exc.headers)

    @app.exception_handler(StorageError)
    async def storage_error(_: Request, exc: StorageError) -> JSONResponse:
        return storage_reply(exc)

    @app.exception_handler(ClientDisconnect)
    async def hung_up(request: Request, _: ClientDisconnect) -> Response:
        client = request.client.host if request.client else "a client"
        # %r: a path may hold a percent-encoded newline, which must not forge a log line
        log.info("%s %r from %s: the body stopped short (the client hung up or was cut off); "
                 "nothing stored", request.method, request.url.path, client)
        return Response(status_code=400)  # nobody is listening

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error", exc_info=exc)
        return reply(500, "internal error")


def reply(status: int, detail: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


def storage_reply(exc: StorageError) -> JSONResponse:
    """A store's refusal (an id it cannot hold) is the client's to fix and says so; a failure
    says only "retry later": the internals stay inside."""
    if exc.status_code < 500:
        return reply(exc.status_code, str(exc))
    if isinstance(exc, StorageUnavailable):
        log.warning("storage unavailable: %s", exc)
        detail = "storage is unavailable"
    else:
        log.error("storage failed", exc_info=exc)
        detail = "storage failed"
    return reply(exc.status_code, f"{detail}; retry later (sending the same readings again is "
                                  "safe: a sensor and timestamp are stored once)",
                 {"Retry-After": str(exc.retry_after_seconds)})


def describe_validation(errors: Any) -> str:
    """FastAPI's error list as one sentence: `query.limit: Input should be ...`."""
    parts = []
    for error in errors:
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
        parts.append(f"{where}: {error.get('msg', 'invalid')}" if where else error.get("msg"))
    return "; ".join(parts) or "invalid request"


def openapi_schema(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema plus the bodies our routes read themselves (any Content-Type)."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, description=app.description,
                             routes=app.routes)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in (MeasurementIn, ReadingBatchIn, RuuviGatewayIn):
            model_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(model_schema.pop("$defs", {}))
            components[model.__name__] = model_schema
        app.openapi_schema = schema
    return app.openapi_schema
