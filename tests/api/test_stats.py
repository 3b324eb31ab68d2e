"""GET /api/v3/sensors/{id}/stats: hourly or daily statistics, ascending, for a read token."""

from __future__ import annotations

import pytest

from storage.base import DAY_MS, HOUR_MS
from storage.models import HourStats, Reading
from storage.rollup import Rollup
from tests.support.common import NOW_MS

DAY = NOW_MS - NOW_MS % DAY_MS  # 2027-01-15 00:00 UTC; NOW_MS is 08:00


def seed(api):
    """Two readings an hour from 30 hours before NOW_MS, the first 28 hours compiled."""
    api.store.write_readings("alice", [Reading("attic", NOW_MS - 30 * HOUR_MS + i * HOUR_MS // 2,
                                               float(i % 4)) for i in range(60)], now_ms=NOW_MS)
    Rollup(api.store).run(NOW_MS - 2 * HOUR_MS)


def get(api, query="", sensor="attic", who="alice_read"):
    return api.client.get(f"/api/v3/sensors/{sensor}/stats{query}", headers=api.headers(who))


def test_it_answers_hourly_statistics_ascending(api):
    seed(api)

    response = get(api, f"?start={NOW_MS - 3 * HOUR_MS}&end={NOW_MS}")

    assert response.status_code == 200
    assert response.json() == {"sensor": "attic", "step": "1h", "stats": [
        {"t": NOW_MS - (3 - i) * HOUR_MS, "n": 2, "min": 2 - 2 * (i % 2), "max": 3 - 2 * (i % 2),
         "mean": 2.5 - 2 * (i % 2)} for i in range(3)]}  # the last two from the readings


def test_days_are_utc_days_made_of_the_hours(api):
    seed(api)

    stats = get(api, f"?start={NOW_MS - 30 * HOUR_MS}&step=1d").json()["stats"]

    assert [(s["t"], s["n"]) for s in stats] == [(DAY - DAY_MS, 44), (DAY, 16)]
    assert stats[0] == {"t": DAY - DAY_MS, "n": 44, "min": 0, "max": 3, "mean": 1.5}


def test_statistics_are_answered_after_the_readings_expired(api):
    old = NOW_MS - 400 * DAY_MS
    api.store.write_statistics("alice", "attic", [HourStats(old, 12, -3.0, 1.5, -1.25, old,
                                                            old + 1)], now_ms=NOW_MS)

    stats = get(api, f"?start={old - DAY_MS}&end={old + DAY_MS}&step=1d").json()["stats"]

    assert stats == [{"t": old - old % DAY_MS, "n": 12, "min": -3, "max": 1.5, "mean": -1.25}]


def test_another_users_sensor_is_empty_and_a_write_token_is_refused(api):
    seed(api)

    assert get(api, who="bob_read").json()["stats"] == []
    assert get(api, who="alice_write").status_code == 403


@pytest.mark.parametrize(("query", "detail"), [
    ("?step=5m", "step"),
    ("?start=10&end=5", "start (10) is after end (5)"),
    ("?start=0&end=1800000000000", "more than 10000 buckets of 1h: use step=1d"),
    ("?start=abc", "start"),
])
def test_bad_parameters_are_422_with_a_detail(api, query, detail):
    response = get(api, query)

    assert response.status_code == 422
    assert detail in response.json()["detail"]


def test_it_is_in_the_openapi_schema(api):
    paths = api.client.get("/openapi.json").json()["paths"]

    operation = paths["/api/v3/sensors/{sensor}/stats"]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {"start", "end", "step"}
