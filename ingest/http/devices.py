"""Off-the-shelf devices over HTTP: the Ruuvi Gateway and the Shelly H&T (docs/devices.md)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Query, Request

from ingest.http.auth import Caller
from ingest.http.deps import (
    TOKEN_SECURITY,
    WRITERS,
    Services,
    parse_json,
    sent_token,
    services_of,
)
from ingest.http.errors import Unprocessable
from ingest.http.limits import read_body
from ingest.http.schemas import GatewayStored, RuuviGatewayIn, SkippedTagOut, Stored, body_doc
from ingest.payloads import (
    BadPayload,
    DeviceReading,
    SkippedTag,
    ruuvi_gateway_readings,
    shelly_query,
    shelly_readings,
)
from ingest.units import FirstSight
from ingest.validation import Window
from storage.models import distinct_count

router = APIRouter(tags=["devices"])

Parse = Callable[[Window], list[DeviceReading]]


def store_device_readings(app: Services, units: FirstSight, caller: Caller, parse: Parse) -> int:
    """As Services.store_readings, then units on first sight. Blocking."""
    token = app.auth.authenticate(caller, "write")
    window = app.window()
    try:
        found = parse(window)
    except BadPayload as exc:
        raise Unprocessable(str(exc)) from None
    readings = [d.reading for d in found]
    app.limiter.take(token.token_id, len(readings), now_ms=window.now_ms)
    if readings:
        app.store.write_readings(token.user_id, readings, now_ms=window.now_ms)
    units.note(token.user_id, found, now_ms=window.now_ms)
    app.auth.used(token)
    return distinct_count(readings)


async def ingest(request: Request, caller: Caller, parse: Parse) -> Stored:
    units: FirstSight = request.app.state.units
    stored = await WRITERS.run(store_device_readings, services_of(request), units, caller,
                               parse)
    return Stored(stored=stored)


@router.post("/api/v1/ruuvi", response_model=GatewayStored,
             openapi_extra=body_doc(RuuviGatewayIn) | TOKEN_SECURITY,
             summary="Ruuvi Gateway (custom HTTP server): each tag's RAWv2 data, decoded; "
                     "tags that give none are skipped and named")
async def post_ruuvi(request: Request) -> GatewayStored:
    who = sent_token(request)
    body = parse_json(await read_body(request))
    skipped: list[SkippedTag] = []

    def parse(window: Window) -> list[DeviceReading]:
        report = ruuvi_gateway_readings(body, window)
        skipped[:] = report.skipped
        return report.readings

    stored = await ingest(request, who, parse)
    return GatewayStored(stored=stored.stored,
                         skipped=[SkippedTagOut(tag=s.tag, reason=s.reason) for s in skipped])


@router.get("/api/v1/shelly", response_model=Stored,
            summary="Shelly H&T report URL: <id>/temperature and <id>/humidity")
async def get_shelly(
    request: Request,
    apikey: str | None = Query(None, description="Write token."),
    id: str | None = Query(None, description="The device, e.g. shellyht-00EB85."),
    temp: str | None = Query(None, description="Temperature, °C."),
    hum: str | None = Query(None, description="Relative humidity, %."),
) -> Stored:
    # The parameters above document the route; the H&T's own URL is read by shelly_query.
    params = shelly_query(request.url.query)
    who = sent_token(request, params.get("apikey"))
    return await ingest(request, who, lambda window: shelly_readings(params, window))
