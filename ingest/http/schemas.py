"""Request and response bodies as the OpenAPI schema documents them (docs/api.md).

A description the schema shows is assigned to `__doc__` rather than written as a docstring:
`sensorbot run` and `sensorbot api` run without docstrings (`python -OO`)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class MeasurementIn(BaseModel):
    __doc__ = "A reading for the sensor in the path (ranchdata v1/v2)."

    model_config = ConfigDict(extra="allow")
    value: float | str = Field(description="A finite number, or a string that parses as one.")
    timestamp: float | str | None = Field(
        default=None,
        description="Epoch milliseconds (a fractional part is dropped) or ISO-8601 with a "
                    "zone; omitted means now.",
    )


class ReadingIn(MeasurementIn):
    sensor: str = Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f-\x9f]+$",
                        description="Any text without control characters, e.g. 'Living room'.")
    unit: str | None = Field(
        default=None, min_length=1, max_length=32, pattern=r"^[^\x00-\x1f\x7f-\x9f]+$",
        description="The sensor's unit, e.g. '°C': set when the sensor has none yet, never "
                    "over one chosen in the chat.")


class ReadingBatchIn(BaseModel):
    readings: list[ReadingIn] = Field(min_length=1, max_length=1000)


class SavedMeasurement(BaseModel):
    message: str = "Successfully saved new measurement"
    sensor: str
    value: float
    timestamp: int = Field(description="The stored time, epoch milliseconds.")


class SeriesItem(BaseModel):
    id: str = Field(description="<user>#<sensor>_<epoch ms>")
    value: float | str | dict[str, Any] | list[Any] | bool | None = Field(
        default=None,
        description="The reading. An item ranchdata stored comes back as its GET served it: "
                    "as the client sent the value (a numeric string, null...), absent if none.")
    measurement_time: str = Field(description="ISO-8601 UTC with milliseconds")
    serial: str
    name: str
    unit: str
    user_id: str


class Stored(BaseModel):
    stored: int


class SkippedTagOut(BaseModel):
    tag: str
    reason: str


class GatewayStored(Stored):
    __doc__ = "What a Ruuvi Gateway POST stored, and the tags that gave no readings, with why."

    skipped: list[SkippedTagOut]


class SensorSummary(BaseModel):
    sensor: str
    name: str
    unit: str | None
    last_value: float | None
    last_timestamp: int | None
    last_seen: str | None


class TimedValue(BaseModel):
    timestamp: int
    value: float


class SensorReadings(BaseModel):
    sensor: str
    readings: list[TimedValue]
    next: int | None = Field(description="The `start` that continues the range, if cut.")


class StatsBucket(BaseModel):
    t: int = Field(description="The bucket's start, epoch ms: an hour, or a day in UTC.")
    n: int = Field(description="How many readings the bucket holds.")
    min: float
    max: float
    mean: float


class SensorStats(BaseModel):
    sensor: str
    step: Literal["1h", "1d"]
    stats: list[StatsBucket]


class Health(BaseModel):
    status: str


class ErrorBody(BaseModel):
    detail: str


class RuuviTagIn(BaseModel):
    __doc__ = "One tag as the Ruuvi Gateway relays it."

    model_config = ConfigDict(extra="allow")
    rssi: int | None = None
    timestamp: str | None = Field(default=None, description="Unix seconds, as a string.")
    data: str = Field(description="The raw BLE advertisement in hex (RAWv2 is decoded).")


class RuuviGatewayData(BaseModel):
    model_config = ConfigDict(extra="allow")
    gw_mac: str | None = None
    timestamp: str | None = None
    tags: dict[str, RuuviTagIn] = Field(description="Tag MAC → its advertisement.")


class RuuviGatewayIn(BaseModel):
    __doc__ = "The Ruuvi Gateway's custom HTTP server JSON."

    data: RuuviGatewayData


def body_doc(model: type) -> dict[str, Any]:
    """The OpenAPI request body of a route that parses its JSON itself (to answer 413 and 422
    its own way) yet documents the model it accepts."""
    schema = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}
