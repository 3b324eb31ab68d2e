"""The HTTP API's errors: each names its status, and carries a sentence for the client.

`ingest.http.app.install_error_handlers` turns these, storage's errors (which carry their own
`status_code`) and the framework's into JSON responses, in that one place.
"""

from __future__ import annotations

import math
from typing import ClassVar


class ApiError(Exception):
    """A refusal the client can act on; `detail` is shown to it as it is."""

    status_code: ClassVar[int] = 400

    def __init__(self, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers or {}


class BadRequest(ApiError):
    """The body is empty or not JSON."""

    status_code = 400


class Unauthorized(ApiError):
    """No token, or an unknown or revoked one."""

    status_code = 401

    def __init__(self, detail: str) -> None:
        super().__init__(detail, {"WWW-Authenticate": "Bearer"})


class Forbidden(ApiError):
    """A valid token of the wrong scope."""

    status_code = 403


class RequestTimeout(ApiError):
    """The request did not arrive in time."""

    status_code = 408


class PayloadTooLarge(ApiError):
    status_code = 413


class Unprocessable(ApiError):
    """Well-formed JSON holding something the API does not accept."""

    status_code = 422


class TooManyRequests(ApiError):
    """A limit was reached; `Retry-After` says when trying again can succeed."""

    status_code = 429

    def __init__(self, detail: str, retry_after_s: float) -> None:
        super().__init__(detail, {"Retry-After": str(max(1, math.ceil(retry_after_s)))})
