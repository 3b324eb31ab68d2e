"""Bodies made to break a parser get a 422 naming the problem, never a 500."""

from __future__ import annotations

import logging

import pytest

from storage.sqlite import SQLiteStore
from tests.support.api import make_api

LONG = b"1" * 5000  # Python's json refuses integers past 4,300 digits
DEEP = b"[" * 100_000 + b"]" * 100_000  # past Python's recursion limit

BODIES = {
    "/api/v1/sensor/attic/measurement": (b'{"value": %s}', b'{"value": 1, "timestamp": %s}'),
    "/api/v2/sensor/attic/measurement": (b'{"value": %s}', b'{"value": 1, "timestamp": %s}'),
    "/api/v3/readings": (b'{"readings": [{"sensor": "attic", "value": %s}]}',
                         b'{"readings": %s}'),
}


@pytest.fixture
def api(tmp_path):
    store = SQLiteStore(tmp_path / "hostile.db")
    yield make_api(store)
    store.close()


@pytest.mark.parametrize("path", list(BODIES))
@pytest.mark.parametrize(("what", "inner", "says"), [
    ("a number of 5,000 digits", LONG, "number too long"),
    ("a body nested 100,000 deep", DEEP, "nested too deeply"),
])
def test_it_answers_422_to_what_python_cannot_parse(api, path, what, inner, says, caplog):
    for template in BODIES[path]:
        response = api.client.post(path, content=template % inner,
                                   headers=api.headers("alice_write"))

        assert response.status_code == 422, what
        assert says in response.json()["detail"]
    assert api.stored() == []
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_it_treats_a_deep_body_that_is_not_json_as_a_client_error(api):
    response = api.client.post("/api/v2/sensor/attic/measurement", content=DEEP + b"x",
                               headers=api.headers("alice_write"))

    assert response.status_code in (400, 422)
