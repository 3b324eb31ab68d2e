"""Linking chats: /start, /help, /link (/login), /unlink, invites, the brute-force guard."""

from __future__ import annotations

from tests.bot.conftest import ADMIN, ALICE_CHAT, BOB_CHAT


def test_it_registers_its_command_menu(world):
    names = [command["command"] for command in world.emulator.commands]

    assert {"latest", "history", "sensors", "help", "link"} <= set(names)


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
