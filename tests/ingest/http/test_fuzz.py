"""Property-based fuzzing from the OpenAPI schema: no 5xx, every response as documented."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from storage.models import Reading
from storage.rollup import Rollup
from tests.support.api import Api, build_store, make_api
from tests.support.common import NOW_MS
from tests.support.dynalite import find_dynalite

REQUESTS = 400


@pytest.fixture
def apis(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, Api]]:
    """The API on SQLite and on DynamoDB (dynalite), each with the same readings. Where
    dynalite is not installed the `dynalite` fixture skips, unless CI requires it."""
    backends = ["sqlite"]
    if find_dynalite() or os.environ.get("REQUIRE_DYNALITE") == "1":
        backends.append("dynalite")
    made = {}
    for backend in backends:
        store = build_store(backend, request, tmp_path)
        store.write_readings("alice", [Reading("attic", NOW_MS - i * 60_000, i / 3)
                                       for i in range(50)], now_ms=NOW_MS)
        Rollup(store).run(NOW_MS)  # hourly statistics for the stats route
        made[backend] = make_api(store)
    yield made
    for api in made.values():
        api.store.close()


def test_generated_requests_never_get_a_5xx_and_match_the_schema(apis):
    # Imported here: only the worker that runs this test pays for schemathesis (0.15 s of CPU).
    import schemathesis
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    checks = [not_a_server_error, status_code_conformance, content_type_conformance,
              response_schema_conformance]
    # Generating a request costs three times sending it: each one goes to every backend.
    schema = schemathesis.openapi.from_asgi("/openapi.json", apis["sqlite"].client.app)
    sent: Counter[str] = Counter()
    ok: Counter[str] = Counter()
    answered: dict[str, set[str]] = {backend: set() for backend in apis}

    @given(case=schema.as_strategy())
    @settings(max_examples=REQUESTS, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def fuzz(case):
        scope = "read" if case.method == "GET" else "write"
        anonymous = sent["sqlite"] % 10 == 0
        for backend, api in apis.items():
            headers = {} if anonymous else api.headers(f"alice_{scope}")
            response = case.call_and_validate(headers=headers, checks=checks,
                                              app=api.client.app)
            sent[backend] += 1
            if response.status_code == 200:
                ok[backend] += 1
                answered[backend].add(case.path)

    fuzz()

    for backend in apis:
        assert sent[backend] >= 350, backend
        assert ok[backend], backend  # the fuzzer reached the inside of the API, not its gate
        assert "/api/v3/sensors/{sensor}/stats" in answered[backend], backend
