"""A fake clock that owns asyncio's time: sleeping and timers run on virtual time.

Theory of operation. A component that waits takes a `clock` with three calls:
`now()` (seconds, monotonic), `await sleep(seconds)` and `call_later(seconds,
callback, *args)` (returns a cancellable `asyncio.TimerHandle`). `MonotonicClock`
(in production code, `time.monotonic` and the running loop) and `FakeClock` both
have that shape.

`FakeClock` is also the time of a `VirtualTimeLoop`: an asyncio event loop whose
`time()` is `clock.now()`. Whenever the loop has nothing ready to run and would
wait for its next timer, it polls its file descriptors without blocking and, if
none is ready, moves the clock to that timer instead of waiting (as kopf's
looptime does). So every `asyncio.sleep`, `call_later`, `wait_for` timeout and
`clock.sleep` on that loop happens in order, at its exact virtual instant, in no
real time; code that sleeps an hour finishes at once with `now()` an hour later.
`clock.sleep` and `clock.call_later` use the running loop, so they refuse to run
on a loop that does not belong to their clock (virtual and real time would mix).

Invariants: time never goes backwards; it moves only when every task is blocked
(or by `advance()`, for code that reads `now()` outside a loop). A loop that has
no timer and no ready file descriptor for `IDLE_LIMIT` real seconds raises
`VirtualTimeDeadlock` instead of hanging the test. Real I/O still works, but
while it is in flight the clock may jump to the next timer: use virtual time for
tests whose peers are fakes on the same loop.

    def test_backoff() -> None:
        async def scenario(clock: FakeClock) -> None:
            started = clock.now()
            await clock.sleep(30)
            assert clock.now() - started == 30
        run_on_fake_clock(scenario)
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

IDLE_LIMIT = 5.0
"""Real seconds a virtual-time loop may wait with no timer before it calls it a deadlock."""


class VirtualTimeDeadlock(RuntimeError):
    """Every task waits, no timer is scheduled and no file descriptor became ready."""


class FakeClock:
    """Virtual monotonic time, advanced by its `VirtualTimeLoop` or by `advance()`."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        """Move time forward by hand; timers that fall due run when the loop next turns."""
        if seconds < 0:
            raise ValueError(f"time never goes backwards (advance({seconds}))")
        self._now += seconds

    def _loop(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.get_running_loop()
        if not isinstance(loop, VirtualTimeLoop) or loop.clock is not self:
            raise RuntimeError("a FakeClock sleeps only on its own VirtualTimeLoop")
        return loop

    async def sleep(self, seconds: float) -> None:
        self._loop()
        await asyncio.sleep(seconds)

    def call_later(self, seconds: float, callback: Callable[..., object],
                   *args: object) -> asyncio.TimerHandle:
        return self._loop().call_later(seconds, callback, *args)


class _VirtualSelector(selectors.DefaultSelector):
    """Polls without blocking; when nothing is ready, jumps the clock by the timeout."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__()
        self._clock = clock

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = super().select(0)
        if ready or timeout == 0:
            return ready
        if timeout is not None:
            self._clock.advance(timeout)
            return []
        ready = super().select(IDLE_LIMIT)  # threads may still wake us (self-pipe)
        if not ready:
            raise VirtualTimeDeadlock(
                f"no task can run, no timer is due and nothing happened for {IDLE_LIMIT} s")
        return ready


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An event loop whose time is `clock`, skipping every wait for a timer."""

    def __init__(self, clock: FakeClock | None = None) -> None:
        self.clock = clock or FakeClock()
        super().__init__(_VirtualSelector(self.clock))

    def time(self) -> float:
        return self.clock.now()


def run_on_fake_clock(main: Callable[[FakeClock], Coroutine[Any, Any, T]],
                      start: float = 0.0) -> T:
    """Run `main(clock)` to completion on a fresh `VirtualTimeLoop`; return its result."""
    clock = FakeClock(start)
    with asyncio.Runner(loop_factory=lambda: VirtualTimeLoop(clock)) as runner:
        return runner.run(main(clock))
