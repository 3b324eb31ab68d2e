"""ranchdata-compatible routes: the v1 gateway write and v2 (docs/api.md)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from ingest.http import direct
from ingest.http.auth import Caller
from ingest.http.deps import (
    MAX_MS,
    TOKEN_SECURITY,
    Services,
    authorized_reader,
    caller,
    iso_ms,
    js_number,
    json_body,
    read_sensor_range,
    sent_token,
    services,
    services_of,
    time_range,
)
from ingest.http.errors import Unprocessable
from ingest.http.schemas import MeasurementIn, SavedMeasurement, SeriesItem, body_doc
from ingest.validation import Invalid, Window, parse_reading
from storage.base import KeepsStoredItems, StoredItem
from storage.models import ApiToken, Reading

MAX_SERIES = 20_000
router = APIRouter(tags=["ranchdata"])


def parse_measurement(body: Any, sensor: str, window: Window) -> list[Reading]:
    if not isinstance(body, dict) or "value" not in body:
        raise Unprocessable('the body must be a JSON object with a "value", e.g. {"value": 21.5}')
    try:
        return [parse_reading(sensor, body["value"], body.get("timestamp"), window)]
    except Invalid as exc:
        raise Unprocessable(str(exc)) from None


async def save_measurement(request: Request, sensor: str, who: Caller) -> JSONResponse:
    body = await json_body(request)
    [reading] = await services_of(request).ingest(
        who, lambda window: parse_measurement(body, sensor, window))
    return JSONResponse({"message": "Successfully saved new measurement", "sensor": sensor,
                         "value": js_number(reading.value), "timestamp": reading.timestamp})


@router.post("/api/v1/sensor/{sensor:path}/measurement", response_model=SavedMeasurement,
             openapi_extra=body_doc(MeasurementIn) | TOKEN_SECURITY,
             summary="Store a reading (ranchdata's home gateway; ?apikey= accepted)")
async def post_v1(sensor: str, request: Request,
                  apikey: str | None = Query(None, description="Write token (this route only).")
                  ) -> JSONResponse:
    return await save_measurement(request, sensor, sent_token(request, apikey))


@direct.post(router, "/api/v2/sensor/{sensor:path}/measurement", response_model=SavedMeasurement,
             openapi_extra=body_doc(MeasurementIn) | TOKEN_SECURITY, summary="Store a reading")
async def post_v2(sensor: str, request: Request) -> JSONResponse:
    return await save_measurement(request, sensor, sent_token(request))


@router.get("/api/v2/sensor/{sensor:path}/series", response_model=list[SeriesItem],
            summary="Readings of a time range, ascending (at most 20,000)")
def get_series(
    sensor: str,
    start: int | None = Query(None, ge=0, le=MAX_MS,
                              description="Epoch ms, inclusive; default end - 24 h"),
    end: int | None = Query(None, ge=0, le=MAX_MS, description="Epoch ms, inclusive; default now"),
    who: Caller = Depends(caller),
    app: Services = Depends(services),
) -> JSONResponse:
    token, items = read_series_items(app, who, sensor, start, end)
    if len(items) > MAX_SERIES:
        raise Unprocessable(f"the range holds more than {MAX_SERIES:,} readings; ask for a "
                            "narrower one with start and end")
    meta = app.store.get_sensor(token.user_id, sensor)
    app.auth.used(token)
    name = meta.display_name if meta else sensor
    unit = (meta.unit if meta else None) or ""
    return JSONResponse([series_item(token.user_id, sensor, item, name, unit) for item in items])


def read_series_items(app: Services, who: Caller, sensor: str, start: int | None,
                      end: int | None) -> tuple[ApiToken, list[StoredItem]]:
    """The range as stored: items ranchdata wrote come back as its GET served them."""
    if not isinstance(app.store, KeepsStoredItems):
        token, readings = read_sensor_range(app, who, sensor, start, end, MAX_SERIES + 1)
        return token, [StoredItem(Decimal(r.timestamp), r.value, True) for r in readings]
    token = authorized_reader(app, who, sensor)
    now = app.clock_ms()
    low, high = time_range(start, end, now)
    return token, app.store.read_stored_items(token.user_id, sensor, low, high, now_ms=now,
                                              limit=MAX_SERIES + 1)


def series_item(user_id: str, sensor: str, item: StoredItem, name: str, unit: str
                ) -> dict[str, Any]:
    """measurement.js's ddbToAPIMeasurement: a value it never had is left out, as
    JSON.stringify leaves out undefined; the time is JavaScript's (whole ms) in the ISO form."""
    shown: dict[str, Any] = {"id": f"{user_id}#{sensor}_{js_text(item.timestamp)}"}
    if item.has_value:
        shown["value"] = js_value(item.value)
    shown.update(measurement_time=iso_ms(int(item.timestamp)), serial=sensor, name=name,
                 unit=unit, user_id=user_id)
    return shown


def js_text(number: Decimal) -> str:
    """How JavaScript prints a stored number: `1795926153000.456`, `1700000000000`."""
    as_float = float(number)
    return str(int(as_float)) if as_float.is_integer() and abs(as_float) < 1e21 \
        else repr(as_float)


def js_value(value: Any) -> Any:
    """A stored value as the DocumentClient handed it to JSON.stringify."""
    if isinstance(value, Decimal | float | int) and not isinstance(value, bool):
        return js_number(float(value))
    if isinstance(value, dict):
        return {key: js_value(inner) for key, inner in value.items()}
    if isinstance(value, list | set | tuple):
        return [js_value(inner) for inner in value]
    return value
