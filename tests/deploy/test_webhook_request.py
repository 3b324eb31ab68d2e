"""Reading a webhook call out of any of Lambda's HTTP event shapes, and the secret check."""

from __future__ import annotations

import base64

from sensorbot.webhook import authorized, request_of


def test_it_reads_a_base64_body_and_headers_in_any_case() -> None:
    event = {"headers": {"X-Telegram-Bot-Api-Secret-Token": "s3cret"},
             "body": base64.b64encode(b'{"update_id": 1}').decode(), "isBase64Encoded": True}

    headers, body = request_of(event)

    assert headers == {"x-telegram-bot-api-secret-token": "s3cret"}
    assert body == '{"update_id": 1}'


def test_a_body_that_is_not_base64_reads_as_empty_not_a_crash() -> None:
    headers, body = request_of({"headers": {}, "body": "a", "isBase64Encoded": True})

    assert (headers, body) == ({}, "")  # the handler then answers 401 or 400


def test_it_reads_a_rest_api_event_without_headers_or_body() -> None:
    assert request_of({"headers": None, "body": None}) == ({}, "")


def test_it_accepts_only_the_exact_secret() -> None:
    header = "x-telegram-bot-api-secret-token"

    assert authorized({header: "s3cret"}, "s3cret")
    assert not authorized({header: "s3cre"}, "s3cret")
    assert not authorized({header: "s3cret "}, "s3cret")
    assert not authorized({}, "s3cret")
    assert not authorized({header: ""}, "")  # no secret configured: nothing gets in


def test_an_update_nested_past_1024_levels_is_refused_on_every_python():
    from sensorbot.webhook import update_of

    def body(levels: int) -> str:  # the update object itself is the first level
        return '{"update_id": 4, "message": ' + "[" * (levels - 1) + "]" * (levels - 1) + "}"

    assert update_of(body(100)) is not None
    assert update_of(body(1025)) is None  # Python 3.12's parser alone would read it
