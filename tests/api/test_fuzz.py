"""Property-based fuzzing from the OpenAPI schema: no 5xx, every response as documented."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from storage.models import Reading
from storage.rollup import Rollup
from tests.support.common import NOW_MS

REQUESTS = 400
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


def test_generated_requests_never_get_a_5xx_and_match_the_schema(api):
    api.store.write_readings("alice", [Reading("attic", NOW_MS - i * 60_000, i / 3)
                                       for i in range(50)], now_ms=NOW_MS)
    Rollup(api.store).run(NOW_MS)  # hourly statistics for the stats route
    schema = schemathesis.openapi.from_asgi("/openapi.json", api.client.app)
    sent = []
    answered: set[str] = set()

    @given(case=schema.as_strategy())
    @settings(max_examples=REQUESTS, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def fuzz(case):
        scope = "read" if case.method == "GET" else "write"
        headers = {} if len(sent) % 10 == 0 else api.headers(f"alice_{scope}")
        response = case.call_and_validate(headers=headers, checks=CHECKS)
        sent.append(response.status_code)
        if response.status_code == 200:
            answered.add(case.path)

    fuzz()

    assert len(sent) >= 350
    assert 200 in sent  # the fuzzer reached the inside of the API, not only its gate
    assert "/api/v3/sensors/{sensor}/stats" in answered
