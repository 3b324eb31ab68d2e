"""Guessing tokens: past 20 failed authentications a minute, an address hears only 429."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from core.config import Settings
from core.tokens import import_ranch_tokens
from ingest.http.app import create_app
from ingest.http.limits import FAILED_LOGINS_PER_MINUTE, MAX_TRACKED_KEYS, TokenBuckets
from sensorbot import lambdas
from storage.sqlite import SQLiteStore
from tests.support.api import Clock, make_api
from tests.support.common import NOW_MS

EVENTS = Path(__file__).resolve().parents[2] / "events"
GUESS = "wrong-guess"

# (method, path, headers, query) for every route and way of sending a token
STYLES = {
    "bearer": ("GET", "/api/v3/sensors", {"Authorization": "Bearer {}"}, ""),
    "bare": ("GET", "/api/v2/sensor/attic/series", {"Authorization": "{}"}, ""),
    "x-api-key": ("GET", "/api/v3/sensors/attic/readings", {"X-API-Key": "{}"}, ""),
    "apikey": ("POST", "/api/v1/sensor/attic/measurement", {}, "?apikey={}"),
    "v2 write": ("POST", "/api/v2/sensor/attic/measurement", {"X-API-Key": "{}"}, ""),
    "v3 write": ("POST", "/api/v3/readings", {"Authorization": "Bearer {}"}, ""),
}
BODY = {"/api/v3/readings": {"readings": [{"sensor": "attic", "value": 1}]}}


def send(client, style, secret):
    method, path, headers, query = STYLES[style]
    return client.request(method, path + query.format(secret),
                          headers={k: v.format(secret) for k, v in headers.items()},
                          json=BODY.get(path, {"value": 1}) if method == "POST" else None)


@pytest.fixture
def api(tmp_path):
    store = SQLiteStore(tmp_path / "guess.db")
    yield make_api(store)
    store.close()


@pytest.mark.parametrize("style", list(STYLES))
def test_it_refuses_the_21st_failed_authentication_a_minute_from_one_address(api, style):
    others = [s for s in STYLES if s != style]
    for i in range(20):
        assert send(api.client, others[i % len(others)], GUESS).status_code == 401

    refused = send(api.client, style, GUESS)
    even_a_good_token = api.client.get("/api/v3/sensors", headers=api.headers("alice_read"))

    assert refused.status_code == 429
    assert "failed authentications" in refused.json()["detail"]
    assert int(refused.headers["Retry-After"]) >= 1
    assert even_a_good_token.status_code == 429


def test_it_still_serves_other_addresses_and_forgives_after_a_minute(api):
    for _ in range(21):
        send(api.client, "bearer", GUESS)
    elsewhere = TestClient(api.client.app, client=("198.51.100.7", 4242),
                           raise_server_exceptions=False)

    other_address = elsewhere.get("/api/v3/sensors", headers=api.headers("alice_read"))
    api.clock.now += 60_000
    same_address_later = api.client.get("/api/v3/sensors", headers=api.headers("alice_read"))

    assert other_address.status_code == 200
    assert same_address_later.status_code == 200


def test_it_does_not_count_good_tokens_or_wrong_scopes_as_failures(api):
    for _ in range(30):
        assert api.client.get("/api/v3/sensors",
                              headers=api.headers("alice_read")).status_code == 200
        assert api.client.get("/api/v3/sensors",
                              headers=api.headers("alice_write")).status_code == 403

    assert send(api.client, "bearer", GUESS).status_code == 401


def lambda_event(name: str, token: str, source_ip: str) -> dict:
    text = (EVENTS / f"{name}.json").read_text(encoding="utf-8")
    return json.loads(text.replace("recorded-read-token-0001", token)
                      .replace("203.0.113.7", source_ip))


@pytest.mark.parametrize("name", ["rest_v1_get", "http_v2_get", "function_url_get"])
def test_it_throttles_by_the_events_source_address_on_lambda(tmp_path, name):
    store = SQLiteStore(tmp_path / "lambda.db")
    import_ranch_tokens(store, "R:recorded-read-token-0001:23", now_ms=NOW_MS)
    handler = lambdas.build_handler(create_app(Settings(), store=store, clock_ms=Clock()))

    guesses = [handler(lambda_event(name, GUESS, "203.0.113.7"), None)["statusCode"]
               for _ in range(21)]
    good_elsewhere = handler(lambda_event(name, "recorded-read-token-0001", "192.0.2.1"), None)

    assert guesses == [401] * 20 + [429]
    assert good_elsewhere["statusCode"] == 200
    store.close()


def test_it_forgets_addresses_whose_allowance_is_whole_again():
    buckets = TokenBuckets(FAILED_LOGINS_PER_MINUTE)
    for i in range(MAX_TRACKED_KEYS):
        buckets.take(f"address-{i}", 1, now_ms=NOW_MS)

    buckets.take("one more", 1, now_ms=NOW_MS + 60_000)

    assert len(buckets._buckets) == 1  # memory stays bounded however many addresses guess
