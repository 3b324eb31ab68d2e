"""Request limits: body size (413) and readings per token per minute (429)."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

from starlette.requests import Request

from ingest.errors import ApiError

MAX_BODY_BYTES = 1024 * 1024


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The body, refused with 413 as soon as it is known to pass the limit."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def too_large(limit: int) -> ApiError:
    return ApiError(413, f"the body is larger than {limit // 1024} KiB; send fewer readings "
                         "per request")


@dataclass
class _Bucket:
    tokens: float
    updated_ms: int


class ReadingRateLimiter:
    """A token bucket per API token: `per_minute` readings, refilled continuously.

    Per process: on Lambda each warm container keeps its own buckets.
    """

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, key: str, count: int, *, now_ms: int) -> None:
        """Spend `count` readings, or raise 429 with the seconds until they would fit."""
        if self.per_minute <= 0:
            return
        if count > self.per_minute:
            raise ApiError(429, f"{count} readings in one request exceed the limit of "
                                f"{self.per_minute} per minute; send smaller batches",
                           {"Retry-After": "60"})
        rate_per_ms = self.per_minute / 60_000
        with self._lock:
            bucket = self._buckets.setdefault(key, _Bucket(self.per_minute, now_ms))
            elapsed = max(0, now_ms - bucket.updated_ms)
            bucket.tokens = min(self.per_minute, bucket.tokens + elapsed * rate_per_ms)
            bucket.updated_ms = now_ms
            if bucket.tokens < count:
                wait_s = math.ceil((count - bucket.tokens) / rate_per_ms / 1000)
                raise ApiError(429, f"more than {self.per_minute} readings a minute from this "
                                    f"token; retry in {wait_s} s", {"Retry-After": str(wait_s)})
            bucket.tokens -= count
