"""The one error type of the HTTP API: a status code and a sentence for the client."""

from __future__ import annotations


class ApiError(Exception):
    def __init__(self, status_code: int, detail: str, headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail
        self.headers = headers or {}
