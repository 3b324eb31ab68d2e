"""The fast batch parser accepts exactly what the careful one accepts, with the same result."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.http.errors import ApiError
from ingest.http.v3 import fast_parse_batch, parse_batch
from ingest.validation import Window
from tests.support.common import NOW_MS

WINDOW = Window(NOW_MS, 90 * 86_400_000)

sensors = st.one_of(
    st.sampled_from(["attic", "ruuvi/temperature", "a.b_c:d-1", "Living room", "sauna#1",
                     "x" * 200, "x" * 201, "a\x85b", "\ud800"]),
    st.text(max_size=210),
)
values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.integers(min_value=-10**120,
                                                                 max_value=10**120),
    st.booleans(), st.none(), st.sampled_from(["21.5", "nan", "warm", " 3 "]),
    st.sampled_from([1e-101, -1e101, 1e100, 0, -0.0]),
)
timestamps = st.one_of(
    st.integers(min_value=NOW_MS - 100 * 86_400_000, max_value=NOW_MS + 600_000),
    st.integers(), st.floats(), st.booleans(), st.none(),
    st.sampled_from(["2027-01-15T07:00:00Z", "2027-01-15T07:00:00", str(NOW_MS)]),
)
items = st.fixed_dictionaries({"sensor": sensors, "value": values},
                              optional={"timestamp": timestamps, "extra": st.integers()})
bodies = st.one_of(
    st.lists(items, max_size=5).map(lambda readings: {"readings": readings}),
    st.lists(items, min_size=1, max_size=3),
)


@given(bodies)
@settings(max_examples=600, deadline=None)
def test_the_fast_parser_never_accepts_what_the_careful_one_refuses(body):
    raw = json.dumps(body).encode()

    fast = fast_parse_batch(raw, WINDOW)

    if fast is not None:
        assert parse_batch(json.loads(raw), WINDOW) == fast


def test_the_fast_parser_takes_the_common_batch():
    raw = json.dumps({"readings": [{"sensor": "attic", "value": -1.5, "timestamp": NOW_MS},
                                   {"sensor": "attic", "value": 2}]}).encode()

    assert fast_parse_batch(raw, WINDOW) == parse_batch(json.loads(raw), WINDOW)


def test_the_careful_parser_explains_what_the_fast_one_refuses():
    raw = json.dumps({"readings": [{"sensor": "a\x01b", "value": 1}]}).encode()

    assert fast_parse_batch(raw, WINDOW) is None
    with pytest.raises(ApiError, match=r"^readings\[0\]: sensor id"):
        parse_batch(json.loads(raw), WINDOW)


def test_the_fast_parser_stores_whole_number_values_as_floats():
    raw = json.dumps({"readings": [{"sensor": "attic", "value": 2, "timestamp": NOW_MS}]})

    readings = fast_parse_batch(raw.encode(), WINDOW)

    assert readings is not None
    assert [type(r.value) for r in readings] == [float]
    assert readings == parse_batch(json.loads(raw), WINDOW)


@pytest.mark.parametrize("item", [
    {"sensor": "attic", "value": True},
    {"sensor": "attic", "value": "21.5"},
    {"sensor": "attic", "value": 1, "timestamp": None},
    {"sensor": "attic", "value": 1, "timestamp": float(NOW_MS)},
    {"sensor": "attic", "value": 1, "timestamp": 2**64},
    {"sensor": "attic", "value": 1e-101},
    {"sensor": "", "value": 1},
    {"sensor": 7, "value": 1},
])
def test_the_fast_parser_leaves_the_unusual_to_the_careful_one(item):
    assert fast_parse_batch(json.dumps({"readings": [item]}).encode(), WINDOW) is None


@pytest.mark.parametrize("raw", [
    b'{"readings": [{"sensor": "attic", "value": 1e-400}]}', b'[{"sensor": "a", "value": 1}]',
    b'{"readings": {"sensor": "attic", "value": 1}}', b'{"readings": ["attic"]}',
    b'{"readings": []}', b'{"readings": [{"sensor": "attic"}]}', b'{"readings": [1]}',
    b'\xef\xbb\xbf{"readings": [{"sensor": "attic", "value": 1}]}',
])
def test_the_fast_parser_refuses_bodies_that_are_not_a_plain_batch(raw):
    assert fast_parse_batch(raw, WINDOW) is None
