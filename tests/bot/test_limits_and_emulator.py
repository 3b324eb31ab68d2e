"""Telegram's limits, invites that expire, a 409 explained once, and the emulator itself."""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.request

from storage.models import Reading
from tests.support.bot import ADMIN, ALICE_CHAT
from tests.support.waiting import wait_until


def test_a_long_sensor_list_pages_within_telegrams_limit(world):
    chat = world.linked_chat()
    world.store.write_readings("alice", [Reading(f"sensor-{i:03d}-" + "x" * 185, 1, 1.0)
                                         for i in range(150)], now_ms=world.clock.now)
    for i in range(150):
        world.store.update_sensor("alice", f"sensor-{i:03d}-" + "x" * 185,
                                  now_ms=world.clock.now, name=f"name {i} " + "y" * 50)

    [page] = chat.say("/sensors")

    assert len(page.text) <= 4096
    assert "sensor-000-" + "x" * 100 in page.text and "page 1 of 8" in page.text


def test_an_invite_expires_after_24_hours(world):
    code = world.chat(ADMIN).ask("/invite alice").split("start=")[1]
    world.clock.now += 25 * 3_600_000

    assert "does not work" in world.chat(ALICE_CHAT).ask(f"/start {code}")


def test_a_409_conflict_is_explained_once_and_polling_goes_on(polling_world, caplog):
    caplog.set_level(logging.ERROR, logger="sensorbot.bot")
    for _ in range(2):
        polling_world.emulator.fail_next("getUpdates", 409,
                                 "Conflict: terminated by other getUpdates request")

    answer = polling_world.chat(ALICE_CHAT).ask("/start", timeout=30)

    conflicts = [r for r in caplog.records if "409 Conflict" in r.getMessage()]
    assert "/link" in answer
    assert len(conflicts) == 1
    assert "another process is polling this bot token" in conflicts[0].getMessage()


def test_the_emulator_never_answers_404_to_a_method_it_does_not_know(emulator):
    url = f"{emulator.base_url}/bot{emulator.token}/setChatMenuButton"
    with urllib.request.urlopen(urllib.request.Request(url, data=b"")) as response:
        body = json.loads(response.read())

    assert (response.status, body) == (200, {"ok": True, "result": True})


def test_the_emulator_long_polls_until_an_update_arrives(emulator):
    url = f"{emulator.base_url}/bot{emulator.token}/getUpdates?timeout=5"
    def send_once_polled() -> None:
        wait_until(lambda: emulator.first_poll_at is not None, what="a getUpdates")
        emulator.send_text(1, "hello")

    started = time.monotonic()
    threading.Thread(target=send_once_polled, daemon=True).start()
    with urllib.request.urlopen(url) as response:
        updates = json.loads(response.read())["result"]
    waited = time.monotonic() - started

    assert waited < 4
    assert [u["message"]["text"] for u in updates] == ["hello"]  # not [] at once


def test_the_emulator_keeps_an_idle_connection_as_telegram_does(emulator):
    # uvicorn's own default (5 s) closed the bot's pooled connection while a chart was drawn
    # on a busy machine, and the sendPhoto that followed failed with a ReadError.
    assert emulator._server.config.timeout_keep_alive >= 60
