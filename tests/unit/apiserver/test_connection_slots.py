"""The per-client connection cap: slow connections make room, whole requests keep theirs."""

from __future__ import annotations

import asyncio
import logging

from portico.apiserver._connections import ClientSlots, quiet_accept_errors


class FakeGuard:
    def __init__(self, header_seen: bool = False) -> None:
        self.header_seen = header_seen
        self.closed = False

    def close(self) -> None:
        self.closed = True


def test_below_the_cap_every_connection_is_admitted():
    slots = ClientSlots(limit=2)
    first, second = FakeGuard(), FakeGuard()
    assert slots.admit("10.0.0.1", first) and slots.admit("10.0.0.1", second)
    assert not first.closed and not second.closed


def test_at_the_cap_the_oldest_connection_without_a_header_makes_room():
    slots = ClientSlots(limit=2)
    busy, slow, new = FakeGuard(header_seen=True), FakeGuard(), FakeGuard()
    slots.admit("10.0.0.1", busy)
    slots.admit("10.0.0.1", slow)
    assert slots.admit("10.0.0.1", new)
    assert slow.closed and not busy.closed
    assert list(slots.by_client["10.0.0.1"]) == [busy, new]


def test_at_the_cap_with_only_busy_connections_the_new_one_is_refused():
    slots = ClientSlots(limit=1)
    busy = FakeGuard(header_seen=True)
    slots.admit("10.0.0.1", busy)
    assert not slots.admit("10.0.0.1", FakeGuard())
    assert not busy.closed


def test_addresses_are_counted_apart_and_released():
    slots = ClientSlots(limit=1)
    one, other = FakeGuard(header_seen=True), FakeGuard(header_seen=True)
    assert slots.admit("10.0.0.1", one) and slots.admit("10.0.0.2", other)
    slots.release("10.0.0.1", one)
    assert "10.0.0.1" not in slots.by_client
    assert slots.admit("10.0.0.1", FakeGuard())


def test_accept_errors_are_logged_once_per_interval(caplog):
    loop = asyncio.new_event_loop()
    try:
        undo = quiet_accept_errors(loop, interval=3600)
        handler = loop.get_exception_handler()
        assert handler is not None
        with caplog.at_level(logging.ERROR, logger="portico.apiserver"):
            for message in ["socket.accept() out of system resource",
                            "Error on transport creation for incoming connection"] * 500:
                handler(loop, {"message": message, "exception": OSError(24, "Too many open files")})
        assert len(caplog.records) == 1
        with caplog.at_level(logging.ERROR, logger="asyncio"):
            handler(loop, {"message": "Task exception was never retrieved"})
        assert caplog.records[-1].name == "asyncio"  # anything else goes on as before
        undo()
        assert loop.get_exception_handler() is None
    finally:
        loop.close()
