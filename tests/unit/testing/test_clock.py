"""The fake clock owns its loop's time: sleeps and timers run in order, at once."""

from __future__ import annotations

import asyncio
import time

import pytest

from portico.client._clock import Clock, MonotonicClock
from portico.testing.clock import FakeClock, VirtualTimeDeadlock, run_on_fake_clock


def test_sleeping_an_hour_takes_no_real_time() -> None:
    async def main(clock: FakeClock) -> float:
        await clock.sleep(3600)
        await asyncio.sleep(60)
        return clock.now()
    started = time.monotonic()
    assert run_on_fake_clock(main, start=100.0) == 3760.0
    assert time.monotonic() - started < 1.0


def test_timers_sleeps_and_timeouts_fire_in_virtual_order() -> None:
    async def main(clock: FakeClock) -> list[tuple[str, float]]:
        seen: list[tuple[str, float]] = []
        clock.call_later(3, lambda: seen.append(("timer", clock.now())))

        async def sleeper() -> None:
            await clock.sleep(2)
            seen.append(("sleeper", clock.now()))
        task = asyncio.create_task(sleeper())
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(asyncio.Event().wait(), 5)
        seen.append(("timeout", clock.now()))
        await task
        return seen
    assert run_on_fake_clock(main) == [("sleeper", 2.0), ("timer", 3.0), ("timeout", 5.0)]


def test_a_cancelled_timer_never_fires() -> None:
    async def main(clock: FakeClock) -> list[float]:
        fired: list[float] = []
        clock.call_later(1, fired.append, 1.0).cancel()
        await clock.sleep(2)
        return fired
    assert run_on_fake_clock(main) == []


def test_waiting_for_nothing_is_a_deadlock_not_a_hang(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("portico.testing.clock.IDLE_LIMIT", 0.05)

    async def main(clock: FakeClock) -> None:
        await asyncio.Event().wait()
    with pytest.raises(VirtualTimeDeadlock):
        run_on_fake_clock(main)


def test_a_fake_clock_refuses_a_real_loop() -> None:
    clock = FakeClock()
    with pytest.raises(RuntimeError, match="own VirtualTimeLoop"):
        asyncio.run(clock.sleep(1))


def test_advance_moves_time_forward_only() -> None:
    clock = FakeClock(10.0)
    clock.advance(2.5)
    assert clock.now() == 12.5
    with pytest.raises(ValueError, match="never goes backwards"):
        clock.advance(-1)


def test_both_clocks_have_the_clock_shape() -> None:
    clocks: list[Clock] = [MonotonicClock(), FakeClock()]
    assert [type(c).__name__ for c in clocks] == ["MonotonicClock", "FakeClock"]
