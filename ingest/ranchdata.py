"""ranchdata-compatible routes: the v1 gateway write and v2 (CONTRACT §4.1)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from ingest.auth import Caller
from ingest.deps import (
    MAX_MS,
    Services,
    caller,
    gateway_caller,
    iso_ms,
    js_number,
    json_body,
    read_sensor_range,
    services,
    services_of,
)
from ingest.errors import Unprocessable
from ingest.schemas import MeasurementIn, SavedMeasurement, SeriesItem
from ingest.validation import Invalid, Window, parse_reading
from storage.models import Reading

MAX_SERIES = 20_000
router = APIRouter(tags=["ranchdata"])


def body_doc(model: type) -> dict[str, Any]:
    schema = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


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
             openapi_extra=body_doc(MeasurementIn),
             summary="Store a reading (ranchdata's home gateway; ?apikey= accepted)")
async def post_v1(sensor: str, request: Request,
                  who: Caller = Depends(gateway_caller)) -> JSONResponse:
    return await save_measurement(request, sensor, who)


@router.post("/api/v2/sensor/{sensor:path}/measurement", response_model=SavedMeasurement,
             openapi_extra=body_doc(MeasurementIn), summary="Store a reading")
async def post_v2(sensor: str, request: Request,
                  who: Caller = Depends(caller)) -> JSONResponse:
    return await save_measurement(request, sensor, who)


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
    token, readings = read_sensor_range(app, who, sensor, start, end, MAX_SERIES + 1)
    if len(readings) > MAX_SERIES:
        raise Unprocessable(f"the range holds more than {MAX_SERIES:,} readings; ask for a "
                            "narrower one with start and end")
    meta = app.store.get_sensor(token.user_id, sensor)
    app.auth.used(token)
    name = meta.display_name if meta else sensor
    unit = (meta.unit if meta else None) or ""
    return JSONResponse([
        {"id": f"{token.user_id}#{sensor}_{r.timestamp}", "value": js_number(r.value),
         "measurement_time": iso_ms(r.timestamp), "serial": sensor, "name": name, "unit": unit,
         "user_id": token.user_id}
        for r in readings
    ])
