"""ranchdata's token string, read as its utils/auth.js read it (mikko/ranchdata-cloud)."""

from __future__ import annotations

import pytest

from core.tokens import TokenImportError, parse_ranch_tokens

# string → what auth.js let in: {token: (mode, user)}. Empty: it let no one in. Worked out
# from reading auth.js: it splits the string on '#', each entry on ':' into mode, token and
# user (later parts dropped), keeps the last entry per token, and lets a request in only when
# the stored mode is exactly 'R' or 'W' as the route asks; callers split the header on spaces.
TABLE: list[tuple[str, dict[str, tuple[str, str]]]] = [
    ("R:readsecret1:23#W:writesecret1:23",
     {"readsecret1": ("R", "23"), "writesecret1": ("W", "23")}),
    ("R:abc:23#r:def:23", {"abc": ("R", "23")}),                 # lower case never matched
    ("w:def:23", {}),
    ("R:dup:1#W:dup:2", {"dup": ("W", "2")}),                     # the last entry wins...
    ("R:ok:5#R:dup:1#r:dup:1", {"ok": ("R", "5")}),               # ...even a dead one
    ("R:abc:23#", {"abc": ("R", "23")}),                          # trailing '#'
    ("R:abc:23##W:def:7", {"abc": ("R", "23"), "def": ("W", "7")}),
    ("W:ab:cd:23", {"ab": ("W", "cd")}),                          # parts past three ignored
    ("R:abc:my ranch", {"abc": ("R", "my ranch")}),               # spaces in a user id
    ("R:abc:23 ", {"abc": ("R", "23 ")}),                         # kept verbatim
    (" R:abc:23", {}),
    ("R:abc:23#X:bad:23", {"abc": ("R", "23")}),
    ("R:abc:23#W:nouser", {"abc": ("R", "23")}),
    ("Rok23", {}),
    ("R:ab cd:23#W:ok:23", {"ok": ("W", "23")}),                  # a header split on spaces
    ("R:undefined:23#junk", {}),                                  # junk's token is `undefined`
]

# Where sensorbot refuses what auth.js let in, on purpose: an empty token (auth.js let
# `Authorization: Bearer ` in) and an empty user id (no store can key on it).
REFUSED: list[tuple[str, dict[str, tuple[str, str]]]] = [
    ("R:abc:23#R::23", {"abc": ("R", "23")}),
    ("R:abc:23#W:def:", {"abc": ("R", "23")}),
]


def accepted(text: str) -> dict[str, tuple[str, str]]:
    parsed = parse_ranch_tokens(text)
    return {t.secret: ("R" if t.scope == "read" else "W", t.user_id) for t in parsed.tokens}


@pytest.mark.parametrize(("text", "expected"), TABLE + REFUSED)
def test_it_accepts_exactly_the_tokens_ranchdata_let_in(text, expected):
    if expected:
        assert accepted(text) == expected
    else:
        with pytest.raises(TokenImportError, match="no token ranchdata would accept"):
            parse_ranch_tokens(text)


def test_it_warns_about_what_it_skips_and_about_weak_tokens_naming_each_entry():
    parsed = parse_ranch_tokens("R:abc:23#w:def:7#R:a-strong-token-0123456789:23#W:x:cd:23")

    text = "\n".join(parsed.warnings)
    assert "entry 2 (w:****:7) starts with 'w'" in text
    assert "entry 1 (R:****:23) is a weak token (3 characters" in text
    assert "entry 4 (W:****:cd) has more than three parts" in text
    assert "entry 4 (W:****:cd) is a weak token (1 character," in text
    assert "entry 3" not in text
    assert all(secret not in text for secret in ("abc", "def", "a-strong"))


def test_it_names_both_entries_of_a_token_listed_twice():
    parsed = parse_ranch_tokens("R:same-token-0123456789:1#W:same-token-0123456789:2")

    assert parsed.warnings == ["entries 1 (R:****:1) and 2 (W:****:2) name the same token; "
                               "ranchdata used the last one, entry 2, and so does this import"]


def test_it_refuses_an_empty_string():
    with pytest.raises(TokenImportError, match="empty"):
        parse_ranch_tokens("\n")
