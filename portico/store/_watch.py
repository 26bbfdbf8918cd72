"""In-process watch fan-out: committed events go to every watcher whose prefix matches.

A watcher is subscribed before history is replayed, so no commit can fall in
between; `skip_through` then drops live events the replay already covered.
A watcher that falls too far behind is closed (`overflowed`), as the apiserver
closes slow watchers; its client re-lists and watches again.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator

from portico.store._types import Event

MAX_PENDING = 100_000


class Watcher:
    def __init__(self, hub: WatchHub, prefix: str) -> None:
        self._hub = hub
        self.prefix = prefix
        self._pending: collections.deque[Event] = collections.deque()
        self._wakeup = asyncio.Event()
        self._skip_through = 0
        self.closed = False
        self.overflowed = False

    def push(self, event: Event) -> None:
        if self.closed or event.revision <= self._skip_through:
            return
        if len(self._pending) >= MAX_PENDING:
            self.overflowed = True
            self.close()
            return
        self._pending.append(event)
        self._wakeup.set()

    def skip_through(self, revision: int) -> None:
        """Ignore live events up to `revision` (history replay already delivered them)."""
        self._skip_through = revision

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._hub.unsubscribe(self)
            self._wakeup.set()

    def drain(self) -> list[Event]:
        events = list(self._pending)
        self._pending.clear()
        self._wakeup.clear()
        return events

    async def wait(self) -> None:
        if not self._pending and not self.closed:
            await self._wakeup.wait()

    async def __aiter__(self) -> AsyncIterator[Event]:
        while True:
            await self.wait()
            batch = self.drain()
            for event in batch:
                yield event
            if self.closed and not self._pending:
                return


class WatchHub:
    def __init__(self) -> None:
        self._watchers: set[Watcher] = set()

    def subscribe(self, prefix: str) -> Watcher:
        watcher = Watcher(self, prefix)
        self._watchers.add(watcher)
        return watcher

    def unsubscribe(self, watcher: Watcher) -> None:
        self._watchers.discard(watcher)

    def publish(self, events: list[Event]) -> None:
        for watcher in list(self._watchers):
            for event in events:
                if event.kv.key.startswith(watcher.prefix):
                    watcher.push(event)

    def close_all(self) -> None:
        for watcher in list(self._watchers):
            watcher.close()

    def __len__(self) -> int:
        return len(self._watchers)
