"""A work queue of keys: client-go's workqueue, with per-key exclusion and retries.

- `add(key)` never blocks and folds duplicates: a key waits in the queue once.
- A key is processed by one worker at a time. If it is added again while being
  processed it is marked dirty and processed once more afterwards, so a change
  that lands during a sync is never lost.
- `add_after(key, seconds)` schedules a later add (progress deadlines, grace periods).
- A sync that raises is retried with per-key exponential backoff (5 ms doubling to
  `max_backoff`); a successful sync forgets the key's failures.
- A sync may return a number of seconds to be called again (requeue after).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("portico.client.queue")

BASE_BACKOFF = 0.005
"""The first retry's delay; each further failure doubles it (client-go's 5 ms base)."""

SyncFn = Callable[[str], Awaitable[float | None]]


class WorkQueue:
    def __init__(self, name: str, sync: SyncFn, workers: int = 4,
                 max_backoff: float = 5.0) -> None:
        self.name = name
        self._sync = sync
        self._workers = workers
        self._max_backoff = max_backoff
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._queued: set[str] = set()
        self._processing: set[str] = set()
        self._dirty: set[str] = set()
        self._failures: dict[str, int] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._timers: set[asyncio.TimerHandle] = set()

    def add(self, key: str) -> None:
        if key in self._processing:
            self._dirty.add(key)
            return
        if key in self._queued:
            return
        self._queued.add(key)
        self._queue.put_nowait(key)

    def add_after(self, key: str, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        handle: asyncio.TimerHandle | None = None

        def fire() -> None:
            if handle is not None:
                self._timers.discard(handle)
            self.add(key)

        handle = loop.call_later(max(0.0, seconds), fire)
        self._timers.add(handle)

    def __len__(self) -> int:
        return len(self._queued) + len(self._processing)

    def start(self) -> None:
        for i in range(self._workers):
            self._tasks.append(asyncio.create_task(self._work(), name=f"{self.name}-{i}"))

    async def stop(self) -> None:
        for handle in self._timers:
            handle.cancel()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _work(self) -> None:
        while True:
            key = await self._queue.get()
            self._queued.discard(key)
            self._processing.add(key)
            try:
                again = await self._sync(key)
                self._failures.pop(key, None)
                if again is not None:
                    self.add_after(key, again)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a failed sync is retried, never fatal
                count = self._failures.get(key, 0) + 1
                self._failures[key] = count
                delay = min(self._max_backoff, BASE_BACKOFF * 2 ** (count - 1))
                log.warning("%s: sync %s failed (%s); retry in %.3fs", self.name, key, exc, delay)
                log.debug("%s: sync %s traceback", self.name, key, exc_info=True)
                self.add_after(key, delay)
            finally:
                self._processing.discard(key)
                if key in self._dirty:
                    self._dirty.discard(key)
                    self.add(key)
