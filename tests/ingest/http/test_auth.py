"""Every endpoint × {no token, unknown, revoked, wrong scope, another user's token}."""

from __future__ import annotations

import pytest

from storage.models import Reading
from tests.support.common import NOW_MS

WRITES = [
    ("/api/v1/sensor/attic/measurement", {"value": 1.5}),
    ("/api/v2/sensor/attic/measurement", {"value": 1.5}),
    ("/api/v3/readings", {"readings": [{"sensor": "attic", "value": 1.5}]}),
]
READS = ["/api/v2/sensor/attic/series", "/api/v3/sensors", "/api/v3/sensors/attic/readings"]


def call(api, path, body, headers):
    if body is None:
        return api.client.get(path, headers=headers)
    return api.client.post(path, json=body, headers=headers)


ENDPOINTS = [(path, body, "write") for path, body in WRITES] + \
            [(path, None, "read") for path in READS]


@pytest.mark.parametrize(("path", "body", "scope"), ENDPOINTS)
@pytest.mark.parametrize(("who", "status"), [
    (None, 401), ("unknown", 401), ("revoked_read", 401), ("revoked_write", 401),
    ("wrong_scope", 403),
])
def test_it_refuses_a_caller_without_a_valid_token_of_the_right_scope(
        api, path, body, scope, who, status):
    if who == "wrong_scope":
        who = "alice_read" if scope == "write" else "alice_write"
    headers = api.headers(who) if who else {}

    response = call(api, path, body, headers)

    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert isinstance(response.json()["detail"], str)
    assert api.stored("alice") == []


@pytest.mark.parametrize("header", ["Authorization", "authorization", "AUTHORIZATION"])
@pytest.mark.parametrize("form", ["Bearer {}", "bearer {}", "{}"])
def test_it_accepts_bearer_and_bare_authorization_in_any_case(api, header, form):
    headers = {header: form.format(api.tokens["alice_write"])}

    response = api.client.post("/api/v2/sensor/attic/measurement", json={"value": 2},
                               headers=headers)

    assert response.status_code == 200
    assert [r.value for r in api.stored("alice")] == [2.0]


@pytest.mark.parametrize("header", ["X-API-Key", "x-api-key"])
def test_it_accepts_x_api_key(api, header):
    response = api.client.get("/api/v3/sensors", headers={header: api.tokens["alice_read"]})

    assert response.status_code == 200


def test_it_accepts_apikey_in_the_query_on_the_v1_route_only(api):
    token = api.tokens["alice_write"]

    v1 = api.client.post(f"/api/v1/sensor/attic/measurement?apikey={token}", json={"value": 1})
    v2 = api.client.post(f"/api/v2/sensor/attic/measurement?apikey={token}", json={"value": 2})

    assert (v1.status_code, v2.status_code) == (200, 401)
    assert "accepted only by the v1 gateway routes" in v2.json()["detail"]
    assert [r.value for r in api.stored("alice")] == [1.0]


def test_another_users_token_never_reads_or_overwrites_alices_readings(api):
    api.store.write_readings("alice", [Reading("attic", NOW_MS - 1000, 7.0)], now_ms=NOW_MS)

    reads = [api.client.get(path, headers=api.headers("bob_read")) for path in READS]
    write = api.client.post("/api/v3/readings", headers=api.headers("bob_write"), json={
        "readings": [{"sensor": "attic", "value": 99, "timestamp": NOW_MS - 1000}]})

    assert [r.status_code for r in reads] == [200, 200, 200]
    assert reads[0].json() == []
    assert reads[1].json() == []
    assert reads[2].json()["readings"] == []
    assert write.status_code == 200
    assert api.stored("alice") == [Reading("attic", NOW_MS - 1000, 7.0)]
    assert api.stored("bob") == [Reading("attic", NOW_MS - 1000, 99.0)]


def test_it_records_last_use_at_most_once_a_minute(api):
    token_hash = None
    for token in api.store.list_tokens("alice"):
        if token.scope == "read" and not token.revoked:
            token_hash = token.token_hash
    headers = api.headers("alice_read")

    api.client.get("/api/v3/sensors", headers=headers)
    api.clock.now += 30_000
    api.client.get("/api/v3/sensors", headers=headers)
    first = api.store.token_by_hash(token_hash).last_used
    api.clock.now += 31_000
    api.client.get("/api/v3/sensors", headers=headers)

    assert first == NOW_MS
    assert api.store.token_by_hash(token_hash).last_used == NOW_MS + 61_000


def test_a_request_answered_4xx_does_not_even_record_the_tokens_use(api):
    token = next(t for t in api.store.list_tokens("alice") if t.scope == "write"
                 and not t.revoked)

    refused = api.client.post("/api/v2/sensor/attic/measurement", json={"value": "warm"},
                              headers=api.headers("alice_write"))
    after_refusal = api.store.get_token(token.token_id).last_used
    accepted = api.client.post("/api/v2/sensor/attic/measurement", json={"value": 1},
                               headers=api.headers("alice_write"))

    assert (refused.status_code, accepted.status_code) == (422, 200)
    assert after_refusal is None
    assert api.store.get_token(token.token_id).last_used == api.clock.now
