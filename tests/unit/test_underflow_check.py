"""might_underflow: which JSON texts are read again by the number grammar (1e-400 is not 0)."""

from __future__ import annotations

import json
import re

from hypothesis import given
from hypothesis import strategies as st

from ingest.validation import might_underflow

# What the check means, as one regular expression (too slow to run on every body).
MEANING = re.compile(rb"[0-9][eE]-|0{300}")
JSON_PIECES = st.sampled_from([b"1e-400", b"2.5E-3", b"1e5", b"-1.5", b"garage-door", b"e-",
                               b"0" * 299, b"0" * 300, b'"x"', b",", b"7", b" "])


@given(st.lists(JSON_PIECES, max_size=12).map(b"".join))
def test_it_flags_exactly_the_texts_with_a_negative_exponent_or_300_zeros(text):
    assert might_underflow(text) == (MEANING.search(text) is not None)


def test_a_batch_with_hyphenated_names_and_negative_values_takes_the_fast_path():
    body = json.dumps({"readings": [{"sensor": f"garage-door-{i}", "value": -1.5 - i}
                                    for i in range(500)]}).encode()

    assert not might_underflow(body)
    assert might_underflow(body.replace(b"-1.5", b"-1.5e-400", 1))
