"""A coalescing runner: any number of `run()` calls while a sync is pending fold into one.

Like kube-proxy's BoundedFrequencyRunner: at most one sync per `min_interval`,
at least one per `max_interval` (a periodic resync), and `retry_after` after a
failure or when a sync reports that it is waiting for something (returns True).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("portico.controllers")


class CoalescingRunner:
    def __init__(self, name: str, sync: Callable[[], Awaitable[bool | None]], min_interval: float,
                 max_interval: float) -> None:
        self.name = name
        self._sync = sync
        self._min = min_interval
        self._max = max_interval
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def run(self) -> None:
        """Ask for a sync soon; never blocks, never queues more than one."""
        self._wake.set()

    def retry_after(self, seconds: float) -> None:
        asyncio.get_running_loop().call_later(seconds, self._wake.set)

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name=self.name)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._max)
            self._wake.clear()
            try:
                if await self._sync():
                    self.retry_after(self._min * 4)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - a failed sync is retried, never fatal
                log.exception("%s: sync failed; retrying", self.name)
                self.retry_after(1.0)
            await asyncio.sleep(self._min)
