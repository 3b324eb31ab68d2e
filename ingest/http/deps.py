"""What every route needs: the services of this app, and the caller's token."""

from __future__ import annotations

import asyncio
import contextlib
import json
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from fastapi import Request, Security
from fastapi.security import APIKeyHeader, HTTPBearer

from ingest.http.auth import Authenticator, Caller, missing_token, token_from_headers
from ingest.http.errors import BadRequest, Unauthorized, Unprocessable
from ingest.http.limits import ReadingRateLimiter, read_body
from ingest.validation import Invalid, Window, parse_number, parse_sensor
from storage.base import DAY_MS, Store
from storage.models import ApiToken, Reading

T = TypeVar("T")
MAX_MS = 2**53 - 1  # the largest time JavaScript (and a float) holds exactly

# Documented in the OpenAPI schema; the secret itself is read by token_from_headers.
bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <token>")
api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="X-API-Key: <token>")


class Writers:
    """A few threads for the blocking writes: they go through SQLite's one lock (or DynamoDB's
    client pool) anyway. A job goes over with an asyncio future that the thread resolves on
    the loop: half what `run_in_executor` costs a request, whose concurrent.futures machinery
    also serves callers that wait in threads."""

    def __init__(self, threads: int) -> None:
        self._threads = threads
        self._jobs: queue.SimpleQueue[Job] = queue.SimpleQueue()
        self._starting = threading.Lock()
        self._started = False

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        """`function(*args)` on one of the threads; its result, or its exception."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        if not self._started:
            self._start()
        self._jobs.put((function, args, future, loop))
        return await future

    def _start(self) -> None:
        with self._starting:
            if not self._started:
                for number in range(self._threads):
                    threading.Thread(target=self._work, name=f"ingest_{number}",
                                     daemon=True).start()
                self._started = True

    def _work(self) -> None:
        while True:
            function, args, future, loop = self._jobs.get()
            try:
                outcome: tuple[bool, Any] = (True, function(*args))
            except Exception as exc:  # the request's to answer (401, 422, 503...)
                outcome = (False, exc)
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody waits
                loop.call_soon_threadsafe(_settle, future, *outcome)


def _settle(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if future.done():  # cancelled while its job ran
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


Job = tuple[Callable[..., Any], tuple[Any, ...], "asyncio.Future[Any]", asyncio.AbstractEventLoop]
WRITERS = Writers(4)


@dataclass
class Services:
    store: Store
    auth: Authenticator
    limiter: ReadingRateLimiter
    clock_ms: Callable[[], int]

    def window(self) -> Window:
        return Window(self.clock_ms(), self.store.retention_ms)

    async def ingest(self, caller: Caller, parse: Callable[[Window], list[Reading]]
                     ) -> list[Reading]:
        """`store_readings` on the writers' threads, off the event loop."""
        return await WRITERS.run(self.store_readings, caller, parse)

    def store_readings(self, caller: Caller, parse: Callable[[Window], list[Reading]]
                       ) -> list[Reading]:
        """Authenticate a writer, parse its body, spend its allowance, store.

        Blocking, so routes run it in one worker trip; parsing there too keeps the readings on
        the core that writes them (measured faster than parsing on the event loop).
        """
        token = self.auth.authenticate(caller, "write")
        window = self.window()
        readings = parse(window)
        self.limiter.take(token.token_id, len(readings), now_ms=window.now_ms)
        self.store.write_readings(token.user_id, readings, now_ms=window.now_ms)
        self.auth.used(token)
        return readings


# Dependencies are async: each sync one would cost a trip to a worker thread.

def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def services(request: Request) -> Services:
    return services_of(request)


def require(request: Request, secret: str | None) -> Caller:
    """A caller that sent a token (else 401 before its body is read)."""
    if not secret:
        if "apikey" in request.query_params:
            raise Unauthorized("?apikey= is accepted only by the v1 gateway routes "
                               "(/api/v1/sensor/…/measurement, /api/v1/shelly); send the token "
                               "as 'Authorization: Bearer <token>' or 'X-API-Key: <token>'")
        raise missing_token()
    # uvicorn's address (X-Forwarded-For from a trusted proxy), or the event's on Lambda
    return Caller(secret, request.client.host if request.client else "unknown")


# What `caller` documents, for the write routes that read the token themselves: FastAPI's
# dependency calls cost a single reading's POST more than its own work (ingest_fast below).
TOKEN_SECURITY: dict[str, Any] = {"security": [{"HTTPBearer": []}, {"APIKeyHeader": []}]}


def sent_token(request: Request, apikey: str | None = None) -> Caller:
    """What `caller` depends on, called by the route itself; `apikey` is the v1 gateway
    route's `?apikey=`."""
    return require(request, token_from_headers(request.headers) or apikey)


async def caller(request: Request, _b: Any = Security(bearer), _k: Any = Security(api_key)
                 ) -> Caller:
    """The token the caller sent; routes check it where they touch storage."""
    return require(request, token_from_headers(request.headers))


async def json_body(request: Request) -> Any:
    """The body as JSON whatever its Content-Type (ranchdata's gateway sent none)."""
    return parse_json(await read_body(request))


def parse_json(raw: bytes) -> Any:
    if not raw.strip():
        raise BadRequest("the body is empty; send JSON such as {\"value\": 21.5}")
    try:
        return json.loads(raw, parse_float=parse_number)  # 1e-400 is refused, not read as 0
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"the body is not valid JSON ({exc})") from None
    except Invalid as exc:
        raise Unprocessable(str(exc)) from None
    except ValueError:  # Python refuses integers past 4,300 digits (a guard against slow parsing)
        raise Unprocessable("the body holds a number too long to be a reading") from None
    except RecursionError:
        raise Unprocessable("the body is nested too deeply to be readings") from None


def read_sensor_range(app: Services, caller: Caller, sensor: str, start: int | None,
                      end: int | None, limit: int) -> tuple[ApiToken, list[Reading]]:
    """A read token's readings of one sensor in [start, end] (default: the last 24 h)."""
    token = authorized_reader(app, caller, sensor)
    now = app.clock_ms()
    low, high = time_range(start, end, now)
    return token, app.store.read_range(token.user_id, sensor, low, high, now_ms=now,
                                       limit=limit)


def authorized_reader(app: Services, caller: Caller, sensor: str) -> ApiToken:
    """The read token, once the sensor id is one a store can hold."""
    token = app.auth.authenticate(caller, "read")
    try:
        parse_sensor(sensor)
    except Invalid as exc:
        raise Unprocessable(str(exc)) from None
    return token


def time_range(start: int | None, end: int | None, now_ms: int) -> tuple[int, int]:
    """`start`/`end` in epoch ms, defaulting to the last 24 hours."""
    end = now_ms if end is None else end
    start = end - DAY_MS if start is None else start
    if start > end:
        raise Unprocessable(f"start ({start}) is after end ({end})")
    return start, end


def js_number(value: float) -> float | int:
    """Whole values print as JavaScript would (`10`, not `10.0`): ranchdata's bytes."""
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


def iso_ms(ms: int) -> str:
    """`2023-11-14T22:13:20.000Z`, as JavaScript's toISOString."""
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"
