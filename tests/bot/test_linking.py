"""Linking chats: /start, /help, /link (/login), /unlink, invites, the brute-force guard."""

from __future__ import annotations

import pytest

from tests.support.bot import ADMIN, ALICE_CHAT, BOB_CHAT


def test_it_registers_its_command_menu(polling_world):
    names = [command["command"] for command in polling_world.emulator.commands]

    assert {"latest", "history", "sensors", "help", "link", "freeze", "alert", "snooze",
            "quiet", "alerts"} <= set(names)


def test_start_welcomes_an_unlinked_chat_and_says_how_to_link(world):
    text = world.chat(ALICE_CHAT).ask("/start")

    assert "/link" in text


def test_link_follows_the_tokens_user_and_deletes_the_token_message(world):
    chat = world.chat(ALICE_CHAT)
    start = len(world.emulator.calls)
    sent = world.emulator.send_text(ALICE_CHAT, f"/link {world.tokens['alice_read']}")
    [answer] = chat.wait(start)

    deleted = world.emulator.wait_for(lambda c: c.method == "deleteMessage", after=start)
    assert "Linked" in answer.text
    assert deleted.params["message_id"] == sent["message_id"]
    assert world.store.get_chat_link(ALICE_CHAT).user_id == "alice"


def test_login_is_an_alias_of_link(world):
    assert "Linked" in world.chat(BOB_CHAT).ask(f"/login {world.tokens['bob_read']}")


def test_link_refuses_write_unknown_and_revoked_tokens_without_saying_which(world):
    revoked = next(t for t in world.store.list_tokens("alice") if t.scope == "read")
    world.store.revoke_token(revoked.token_id)
    chat = world.chat(ALICE_CHAT)

    answers = [chat.ask(f"/link {token}") for token in
               (world.tokens["alice_write"], "made-up-token", world.tokens["alice_read"])]

    assert len(set(answers)) == 1
    assert "does not work" in answers[0]
    assert world.store.get_chat_link(ALICE_CHAT) is None


def test_link_without_a_token_shows_an_example(world):
    assert "e.g. /link" in world.chat(ALICE_CHAT).ask("/link")


def test_repeated_wrong_tokens_are_slowed_down(world):
    chat = world.chat(ALICE_CHAT)
    for _ in range(3):
        chat.ask("/link wrong")

    answer = chat.ask(f"/link {world.tokens['alice_read']}")

    assert "Too many wrong tokens" in answer
    assert world.store.get_chat_link(ALICE_CHAT) is None


def test_unlink_forgets_the_chat(world):
    chat = world.linked_chat()

    assert "Unlinked" in chat.ask("/unlink")
    assert "not linked" in chat.ask("/unlink")
    assert "/link" in chat.ask("/latest")


def test_an_invite_links_one_chat_once(world):
    admin = world.chat(ADMIN)
    text = admin.ask("/invite alice")
    link = text.split()[-1]
    assert link.startswith(f"https://t.me/{world.emulator.username}?start=")
    code = link.split("start=")[1]

    first = world.chat(ALICE_CHAT).ask(f"/start {code}")
    second = world.chat(BOB_CHAT).ask(f"/start {code}")

    assert "Linked" in first
    assert "does not work" in second
    assert world.store.get_chat_link(ALICE_CHAT).user_id == "alice"
    assert world.store.get_chat_link(BOB_CHAT) is None


def test_help_lists_commands_with_examples_and_admin_ones_for_admins(world):
    user_help = world.chat(ALICE_CHAT).ask("/help")
    admin_help = world.chat(ADMIN).ask("/help")

    assert "/history attic 7d" in user_help
    assert "/freeze attic" in user_help
    assert "/quiet 22:00-07:00" in user_help
    assert "/adduser" not in user_help
    assert "/adduser" in admin_help


def test_an_unknown_command_points_to_help(world):
    assert "/help" in world.chat(ALICE_CHAT).ask("/frobnicate now")


def test_a_group_chat_can_follow_a_user(world):
    group = world.chat(-5005, user_id=ALICE_CHAT, chat_type="group")

    assert "Linked" in group.ask(f"/link {world.tokens['alice_read']}")
    assert "attic" in group.ask("/latest").lower()


def test_it_keeps_the_chats_zone_and_quiet_hours_across_unlink_and_relink(world):
    chat = world.linked_chat()
    chat.ask("/tz Europe/Helsinki")
    chat.ask("/quiet 22:00-07:00")

    chat.ask("/unlink")
    unlinked = chat.ask("/latest")
    world.linked_chat()

    assert "/link" in unlinked
    link = world.store.get_chat_link(ALICE_CHAT)
    assert (link.user_id, link.timezone, link.quiet_hours) == ("alice", "Europe/Helsinki",
                                                               "22:00-07:00")
    assert "attic: 2 at 10:00" in chat.ask("/latest attic")


def test_an_unlinked_chat_gets_no_alerts_and_is_unlinked_for_every_command(world):
    chat = world.linked_chat()
    chat.ask("/unlink")

    assert world.store.chat_links_for_user("alice") == []
    assert "not linked" in chat.ask("/unlink")
    assert "/link" in chat.ask("/start")
    assert "/link" in chat.ask("/tz Europe/Oslo")


@pytest.mark.parametrize(("typed", "zone"), [("europe/helsinki", "Europe/Helsinki"),
                                             ("AMERICA/NEW_YORK", "America/New_York"),
                                             ("america/new york", "America/New_York"),
                                             ("utc", "UTC")])
def test_it_takes_a_zone_in_any_case(world, typed, zone):
    chat = world.linked_chat()

    assert f"now shown in {zone}" in chat.ask(f"/tz {typed}")
    assert world.store.get_chat_link(ALICE_CHAT).timezone == zone


@pytest.mark.parametrize(("typed", "suggested"), [("Europe/Helsinky", "Europe/Helsinki"),
                                                  ("Amerika/New_York", "America/New_York"),
                                                  ("Mars/Base", None)])
def test_a_misspelt_zone_gets_a_suggestion(world, typed, suggested):
    answer = world.linked_chat().ask(f"/tz {typed}")

    assert "don't know the zone" in answer
    if suggested:
        assert f"Did you mean /tz {suggested}?" in answer
    else:
        assert "e.g. /tz Europe/Helsinki" in answer


def test_the_link_example_has_no_markdown_left_in_it(world):
    answer = world.chat(ALICE_CHAT).ask("/login")

    assert "`" not in answer
    assert answer[0].isupper()


def test_wrong_tokens_slow_down_the_telegram_user_in_every_chat(world):
    for group in (-7001, -7002, -7003):
        world.chat(group, user_id=ALICE_CHAT, chat_type="group").ask("/link wrong")

    fourth_group = world.chat(-7004, user_id=ALICE_CHAT, chat_type="group")
    answer = fourth_group.ask(f"/link {world.tokens['alice_read']}")

    assert "Too many wrong tokens" in answer
    assert world.store.get_chat_link(-7004) is None
    assert "Linked" in world.chat(BOB_CHAT).ask(f"/link {world.tokens['bob_read']}")


def test_linking_says_which_zone_times_are_in_until_the_chat_chooses_one(world):
    chat = world.chat(ALICE_CHAT)

    first = chat.ask(f"/link {world.tokens['alice_read']}")
    chat.ask("/tz Europe/Helsinki")
    chat.ask("/unlink")
    again = chat.ask(f"/link {world.tokens['alice_read']}")

    assert "Times are shown in UTC; /tz Europe/Helsinki (say) sets this chat's zone." in first
    assert "Times are shown" not in again


def test_linked_and_start_name_the_user_by_its_name_not_its_id(world):
    chat = world.chat(ALICE_CHAT)

    linked = chat.ask(f"/link {world.tokens['alice_read']}")
    started = chat.ask("/start")

    assert "now follows the sensors of Alice." in linked
    assert "follows the sensors of Alice." in started
    assert "'alice'" not in linked + started
