"""What the subscriber remembers of stored messages, to recognise the broker's resends."""

from __future__ import annotations

from ingest.mqtt import subscriber as mqtt
from ingest.mqtt.subscriber import ResendMemory


def key(n: int) -> tuple[str, int, bytes]:
    return ("cellar", n, b"4.5")


def test_it_keeps_an_ack_withheld_until_its_resend_however_many_came_since(monkeypatch):
    monkeypatch.setattr(mqtt, "RECENT_MESSAGES", 3)
    memory = ResendMemory()
    memory.stored({key(1): 1}, current=2)  # stored after connection 1 was lost
    memory.stored({key(n): 2 for n in range(2, 50)}, current=2)

    assert memory.recognise(key(1))
    assert not memory.recognise(key(2))  # acknowledged long ago: forgotten
    assert memory.recognise(key(49))


def test_a_new_session_forgets_and_an_old_sessions_late_write_is_not_remembered():
    memory = ResendMemory()
    memory.stored({key(1): 1}, current=1)
    memory.new_session(2)
    assert not memory.recognise(key(1))

    memory.stored({key(7): 1}, current=2)  # a batch of session 1, stored only now

    assert not memory.recognise(key(7))
