"""The Lambda handler with recorded API Gateway REST, HTTP API and Function URL events."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from core.config import Settings
from core.tokens import import_ranch_tokens
from ingest.http.app import create_app
from sensorbot import lambdas as lambda_handler
from storage.models import Reading
from tests.support.api import Clock
from tests.support.common import NOW_MS

EVENTS = Path(__file__).resolve().parents[2] / "events"
TOKENS = "R:recorded-read-token-0001:23#W:recorded-write-token-0001:23"


def event(name: str) -> dict:
    return json.loads((EVENTS / f"{name}.json").read_text(encoding="utf-8"))


@pytest.fixture
def invoke(backend_store):
    import_ranch_tokens(backend_store, TOKENS, now_ms=NOW_MS)
    handler = lambda_handler.build_handler(
        create_app(Settings(), store=backend_store, clock_ms=Clock()))

    def call(name: str) -> tuple[int, dict, object]:
        response = handler(event(name), None)
        body = response["body"]
        if response.get("isBase64Encoded"):
            body = base64.b64decode(body).decode()
        return response["statusCode"], response["headers"], json.loads(body)

    return call


def stored(store, sensor):
    return store.read_range("23", sensor, 0, NOW_MS, now_ms=NOW_MS)


def test_a_rest_api_post_with_an_encoded_sensor_id_stores_the_reading(invoke, backend_store):
    status, headers, body = invoke("rest_v1_post")

    assert status == 200
    assert headers["content-type"] == "application/json"
    assert body == {"message": "Successfully saved new measurement", "sensor": "ruuvi/temperature",
                    "value": 21.3, "timestamp": NOW_MS}
    expected = [Reading("ruuvi/temperature", NOW_MS, 21.3)]
    assert stored(backend_store, "ruuvi/temperature") == expected


def test_a_rest_api_get_with_a_bare_lower_cased_authorization_reads_the_series(
        invoke, backend_store):
    backend_store.write_readings("23", [Reading("ruuvi/temperature", NOW_MS - 5000, 20.5)],
                                 now_ms=NOW_MS)

    status, headers, body = invoke("rest_v1_get")

    assert status == 200
    assert headers["access-control-allow-origin"] == "*"
    assert [item["value"] for item in body] == [20.5]
    assert body[0]["id"] == f"23#ruuvi/temperature_{NOW_MS - 5000}"


def test_an_http_api_batch_post_and_get(invoke, backend_store):
    status, _, body = invoke("http_v2_post")
    get_status, _, readings = invoke("http_v2_get")

    assert (status, body) == (200, {"stored": 2})
    assert stored(backend_store, "attic") == [Reading("attic", NOW_MS, 2.5)]
    assert get_status == 200
    assert readings == {"sensor": "ruuvi/temperature", "next": None,
                        "readings": [{"timestamp": NOW_MS, "value": -1.5}]}


def test_a_function_url_gateway_post_with_apikey_and_a_base64_body(invoke, backend_store):
    status, _, body = invoke("function_url_post")
    list_status, _, sensors = invoke("function_url_get")

    assert status == 200
    assert body["sensor"] == "ruuvi/humidity"
    assert stored(backend_store, "ruuvi/humidity") == [Reading("ruuvi/humidity", NOW_MS, 55.0)]
    assert list_status == 200
    assert [s["sensor"] for s in sensors] == ["ruuvi/humidity"]


def test_the_module_handler_builds_its_app_once_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("SENSORBOT_STORAGE__SQLITE_PATH", str(tmp_path / "lambda.db"))
    monkeypatch.setattr(lambda_handler, "_apps", {})
    health = {**event("function_url_get"), "rawPath": "/healthz"}
    health["requestContext"] = {**health["requestContext"],
                                "http": {**health["requestContext"]["http"], "path": "/healthz"}}

    first = lambda_handler.handler(health, None)
    adapter = lambda_handler._apps["api"]
    second = lambda_handler.handler(health, None)

    assert (first["statusCode"], second["statusCode"]) == (200, 200)
    assert adapter is not None
    assert lambda_handler._apps["api"] is adapter
    assert (tmp_path / "lambda.db").is_file()
