"""Admin commands, refusals, and faults: 429, 403, a failing handler."""

from __future__ import annotations

import time

import pytest

from bot.data import split_history_args
from core.tokens import hash_token
from storage.models import Sensor
from tests.support.bot import ADMIN, ALICE_CHAT, BOB_CHAT


def test_an_admin_adds_a_user_and_issues_a_token_shown_once(world):
    admin = world.chat(ADMIN)

    created = admin.ask("/adduser Summer cottage")
    announced, secret = admin.say("/token summer-cottage write attic sensor", replies=2)

    assert "Created user summer-cottage" in created
    assert "shown only this once" in announced.text
    token = world.store.token_by_hash(hash_token(secret.text))
    assert (token.user_id, token.scope, token.label) == ("summer-cottage", "write",
                                                         "attic sensor")
    assert "summer-cottage — Summer cottage" in admin.ask("/users")


def test_an_admin_lists_and_revokes_tokens_never_seeing_secrets(world):
    admin = world.chat(ADMIN)
    token = next(t for t in world.store.list_tokens("alice") if t.scope == "write")

    listing = admin.ask("/tokens alice")
    revoked = admin.ask(f"/revoke {token.token_id}")

    assert token.token_id in listing
    assert world.tokens["alice_write"] not in listing
    assert "Revoked" in revoked
    assert world.store.get_token(token.token_id).revoked
    assert "no token 't_nope'" in admin.ask("/revoke t_nope")


@pytest.mark.parametrize(("command", "says"), [
    ("/adduser", "e.g. /adduser Summer cottage"),
    ("/token alice", "e.g. /token summer-cottage write attic sensor"),
    ("/token alice admin", "'admin' is not a scope: give read or write"),
    ("/token ghost read", "no user 'ghost'"),
    ("/invite", "e.g. /invite summer-cottage"),
    ("/invite ghost", "no user 'ghost'"),
    ("/tokens ghost", "no user 'ghost'"),
    ("/revoke", "e.g. /revoke"),
    ("/revoke t_1 t_2", "'t_2' is one word too many. Give a token id from /tokens, e.g. /revoke"),
    ("/invite alice bob", "'bob' is one word too many. Give a user id from /users, e.g. /invite"),
    ("/token alice " + "x" * 4000, "'" + "x" * 59 + "…' is not a scope: give read or write"),
    ("/tokens alice bob", "'bob' is one word too many. Give a user id from /users, or nothing"),
    ("/revoke " + "x" * 4000, "There is no token '" + "x" * 59 + "…'. See /tokens."),
])
def test_admin_commands_explain_bad_arguments(world, command, says):
    assert says in world.chat(ADMIN).ask(command)


def test_adduser_takes_quotes_as_quotes_and_refuses_an_empty_or_long_name(world):
    admin = world.chat(ADMIN)
    before = world.store.list_users()

    assert admin.ask('/adduser ""') == "Give the new user a name, e.g. /adduser Summer cottage"
    assert admin.ask("/adduser " + "n" * 65) == (
        "A name is at most 64 characters; that one has 65. E.g. /adduser Summer cottage")
    assert admin.ask("/token alice read " + "l" * 65).startswith(
        "A label is at most 64 characters; that one has 65, e.g. /token summer-cottage write")
    assert world.store.list_users() == before
    assert len(world.store.list_tokens("alice")) == 2
    assert admin.ask('/adduser "Summer cottage"').startswith(
        "Created user summer-cottage (Summer cottage).")
    assert world.store.get_user("summer-cottage").name == "Summer cottage"


@pytest.mark.parametrize("command", ["/adduser Eve", "/users", "/token alice read",
                                     "/tokens", "/revoke t_x", "/invite alice", "/invite ghost"])
def test_everyone_else_gets_the_same_polite_refusal(world, command):
    before = len(world.store.list_users())

    text = world.linked_chat().ask(command)

    assert text == "Sorry, that command is only for this bot's administrators."
    assert len(world.store.list_users()) == before


def test_a_429_on_a_reply_is_delivered_after_the_wait(world):
    chat = world.linked_chat()
    world.emulator.fail_next("sendMessage", 429, "Too Many Requests: retry after 1",
                             retry_after=1, chat_id=ALICE_CHAT)

    [answer] = chat.say("/latest attic")

    assert answer.text.startswith("attic: 2")


def test_a_403_marks_the_chat_inactive_and_the_bot_carries_on(world):
    chat = world.linked_chat()
    world.emulator.fail_next("sendMessage", 403, "Forbidden: bot was blocked by the user",
                             chat_id=ALICE_CHAT)
    world.emulator.send_text(ALICE_CHAT, "/latest")

    deadline = time.monotonic() + 10
    while world.store.get_chat_link(ALICE_CHAT).active and time.monotonic() < deadline:
        time.sleep(0.02)

    assert world.store.get_chat_link(ALICE_CHAT).active is False
    assert "garage" in world.linked_chat("bob", BOB_CHAT).ask("/latest")
    assert "attic" in chat.ask("/latest")  # writing again makes the chat active again
    assert world.store.get_chat_link(ALICE_CHAT).active is True


def test_a_failing_handler_apologises_tells_the_admins_and_the_bot_keeps_running(polling_world):
    chat = polling_world.linked_chat()
    polling_world.faulty.faults.add("list_alert_rules")
    start = len(polling_world.emulator.calls)

    [apology] = chat.say("/sensors")
    notice = polling_world.emulator.wait_for(lambda c: c.chat_id == ADMIN, after=start)
    polling_world.faulty.faults.clear()

    assert "Sorry, something went wrong" in apology.text
    assert "RuntimeError: injected fault in list_alert_rules" in notice.text
    assert "attic" in chat.ask("/latest")


@pytest.mark.parametrize(("args", "expected"), [
    ([], (None, "24h")),
    (["7d"], (None, "7d")),
    (["attic"], ("attic", "24h")),
    (["attic", "6h"], ("attic", "6h")),
    (["Living", "room"], ("Living room", "24h")),
    (["Living", "room", "2026-01-05"], ("Living room", "2026-01-05")),
    (["attic", "5x"], ("attic", "5x")),
    (["nosuch", "thing"], ("nosuch", "thing")),
])
def test_history_arguments_split_into_sensor_and_range(args, expected):
    sensors = [Sensor("attic"), Sensor("lr", name="Living room")]

    assert split_history_args(args, sensors) == expected


def test_a_token_asked_for_in_a_group_goes_to_the_admin_privately(world):
    group = world.chat(-6006, user_id=ADMIN, chat_type="group")
    start = len(world.emulator.calls)

    [said] = group.say("/token alice read phone")
    private = [c for c in world.emulator.calls[start:]
               if c.method == "sendMessage" and c.chat_id == ADMIN]

    assert "sent it to you in a private chat" in said.text
    in_group = [c.text for c in world.emulator.calls[start:] if c.chat_id == -6006]
    secret = private[1].text
    assert world.store.token_by_hash(hash_token(secret)).user_id == "alice"
    assert not any(secret in text for text in in_group)


def test_a_token_for_an_admin_the_bot_cannot_write_to_is_revoked_not_posted(world):
    group = world.chat(-6006, user_id=ADMIN, chat_type="group")
    world.emulator.fail_next("sendMessage", 403, "Forbidden: bot can't initiate conversation "
                             "with a user", chat_id=ADMIN)
    before = {t.token_id for t in world.store.list_tokens("alice")}

    answer = group.ask("/token alice read phone")

    [new] = [t for t in world.store.list_tokens("alice") if t.token_id not in before]
    assert "could not message you privately, so I revoked that token" in answer
    assert new.revoked
    assert world.store.get_chat_link(-6006) is None


def test_tokens_show_times_in_the_chats_zone(world):
    admin = world.chat(ADMIN)
    token = next(t for t in world.store.list_tokens("alice") if t.scope == "write")
    world.store.touch_token(token, now_ms=1_800_000_000_000)  # 2027-01-15 08:00 UTC
    world.linked_chat(chat_id=ADMIN)
    admin.ask("/tz Europe/Helsinki")

    listing = admin.ask("/tokens alice")

    assert "used 2027-01-15 10:00 Europe/Helsinki" in listing
