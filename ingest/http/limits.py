"""Request limits: body size (413), readings per token and failed logins per address (429)."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

from starlette.requests import Request

from ingest.http.errors import PayloadTooLarge, TooManyRequests

MAX_BODY_BYTES = 1024 * 1024
FAILED_LOGINS_PER_MINUTE = 20
MAX_TRACKED_KEYS = 10_000  # beyond it, keys whose allowance is whole again are forgotten


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


def too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"the body is larger than {limit // 1024} KiB; send fewer readings "
                           "per request")


@dataclass
class _Bucket:
    tokens: float
    updated_ms: int


class TokenBuckets:
    """A bucket per key holding `per_minute` units, refilled continuously. Per process: on
    Lambda each warm container keeps its own."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._rate_per_ms = per_minute / 60_000
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, key: str, count: int, *, now_ms: int, spend: bool = True) -> float:
        """Spend `count` units (only check, with `spend=False`): 0 if they were there, else
        the seconds until they will be, and nothing is spent."""
        with self._lock:
            bucket = self._refilled(key, now_ms)
            if bucket.tokens < count:
                return (count - bucket.tokens) / self._rate_per_ms / 1000
            if spend:
                bucket.tokens -= count
            return 0.0

    def _refilled(self, key: str, now_ms: int) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= MAX_TRACKED_KEYS:
                self._forget_full(now_ms)
            bucket = self._buckets[key] = _Bucket(self.per_minute, now_ms)
        elapsed = max(0, now_ms - bucket.updated_ms)
        bucket.tokens = min(self.per_minute, bucket.tokens + elapsed * self._rate_per_ms)
        bucket.updated_ms = now_ms
        return bucket

    def _forget_full(self, now_ms: int) -> None:
        """A full bucket is what a new key gets anyway: forgetting it changes nothing."""
        for key, bucket in list(self._buckets.items()):
            if bucket.tokens + (now_ms - bucket.updated_ms) * self._rate_per_ms >= \
                    self.per_minute:
                del self._buckets[key]


class ReadingRateLimiter:
    """`per_minute` readings per API token (0: no limit)."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._buckets = TokenBuckets(per_minute)

    def take(self, key: str, count: int, *, now_ms: int) -> None:
        """Spend `count` readings, or raise 429 with the seconds until they would fit."""
        if self.per_minute <= 0:
            return
        if count > self.per_minute:
            raise TooManyRequests(f"{count} readings in one request exceed the limit of "
                                  f"{self.per_minute} per minute; send smaller batches", 60)
        wait_s = self._buckets.take(key, count, now_ms=now_ms)
        if wait_s:
            raise TooManyRequests(f"more than {self.per_minute} readings a minute from this "
                                  f"token; retry in {math.ceil(wait_s)} s", wait_s)


class FailedLogins:
    """Unknown or revoked tokens per client address: past the allowance, the address is
    refused outright until it refills, so guessing tokens takes years, not seconds."""

    def __init__(self, per_minute: int = FAILED_LOGINS_PER_MINUTE) -> None:
        self.per_minute = per_minute
        self._buckets = TokenBuckets(per_minute)

    def check(self, address: str, *, now_ms: int) -> None:
        wait_s = self._buckets.take(address, 1, now_ms=now_ms, spend=False)
        if wait_s:
            raise TooManyRequests(f"more than {self.per_minute} failed authentications a "
                                  f"minute from this address; retry in {math.ceil(wait_s)} s",
                                  wait_s)

    def failed(self, address: str, *, now_ms: int) -> None:
        self._buckets.take(address, 1, now_ms=now_ms)
