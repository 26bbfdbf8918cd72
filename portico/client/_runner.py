"""A coalescing sync runner, like kube-proxy's BoundedFrequencyRunner.

`run()` never blocks and never queues more than one sync: any number of calls
while a sync is pending fold into it. Syncs start at most once per
`min_interval` (measured start to start, so a burst of events a few ms apart is
one sync) and at least once per `max_interval` (a periodic resync). A failed
sync is retried after a second; a sync that returns True (it is waiting for
something, e.g. a namespace still being emptied) is run again soon.
`retry_after(s)` asks for a sync `s` seconds from now. Every wait (the periodic
resync, the minimum interval, retries) goes through the injected `Clock`, so a
test's fake clock drives the runner completely.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from portico.client._clock import REAL_CLOCK, Clock, Timer

log = logging.getLogger("portico.runner")


class CoalescingRunner:
    def __init__(self, name: str, sync: Callable[[], Awaitable[bool | None]],
                 min_interval: float, max_interval: float,
                 clock: Clock = REAL_CLOCK) -> None:
        self.name = name
        self._sync = sync
        self._min = min_interval
        self._max = max_interval
        self._clock = clock
        self._wake = asyncio.Event()
        self._last = float("-inf")
        self._task: asyncio.Task[None] | None = None
        self._timers: list[Timer] = []

    def run(self) -> None:
        """Ask for a sync soon; never blocks, never queues more than one."""
        self._wake.set()

    def retry_after(self, seconds: float) -> None:
        timer: Timer | None = None

        def fire() -> None:
            if timer in self._timers:
                self._timers.remove(timer)
            self._wake.set()

        timer = self._clock.call_later(seconds, fire)
        self._timers.append(timer)

    @property
    def started(self) -> bool:
        return self._task is not None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name=self.name)

    async def stop(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            resync = self._clock.call_later(self._max, self._wake.set)
            try:
                await self._wake.wait()
            finally:
                resync.cancel()
            delay = self._last + self._min - self._clock.now()
            if delay > 0:
                await self._clock.sleep(delay)
            self._wake.clear()
            self._last = self._clock.now()
            try:
                if await self._sync():
                    self.retry_after(max(self._min * 4, 0.05))
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - a failed sync is retried, never fatal
                log.exception("%s: sync failed; retrying", self.name)
                self.retry_after(1.0)
