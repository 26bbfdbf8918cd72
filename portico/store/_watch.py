"""In-process watch fan-out: committed events go to every watcher whose prefix matches.

A watcher is subscribed before history is replayed, so no commit can fall in
between; `skip_through` then drops live events the replay already covered.
A watcher that falls too far behind is closed (`overflowed`), as the apiserver
closes slow watchers; its client re-lists and watches again.

Waking a watcher costs one future: `wait(timeout)` parks on a plain loop future
(with a timer handle when there is a timeout) that the first `push` resolves, so
a commit seen by a hundred watchers creates no tasks. Readers then `drain()`
everything pending at once, which lets the HTTP layer send a burst as one write.

Listeners (`add_listener`) see every committed batch synchronously, before any
watcher runs: caches of decoded objects use them to forget changed keys.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator, Callable

from portico.store import _types

MAX_PENDING = 100_000

Listener = Callable[[list[_types.Event]], None]


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class Watcher:
    def __init__(self, hub: WatchHub, prefix: str) -> None:
        self._hub = hub
        self.prefix = prefix
        self._pending: collections.deque[_types.Event] = collections.deque()
        self._waiter: asyncio.Future[None] | None = None
        self._skip_through = 0
        self.closed = False
        self.overflowed = False

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def push(self, event: _types.Event) -> None:
        if self.closed or event.revision <= self._skip_through:
            return
        if len(self._pending) >= MAX_PENDING:
            self.overflowed = True
            self.close()
            return
        self._pending.append(event)
        self._wake()

    def skip_through(self, revision: int) -> None:
        """Ignore live events up to `revision` (history replay already delivered them)."""
        self._skip_through = revision

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._hub.unsubscribe(self)
            self._wake()

    def drain(self) -> list[_types.Event]:
        events = list(self._pending)
        self._pending.clear()
        return events

    async def wait(self, timeout: float | None = None) -> bool:
        """Until an event is pending or the watcher closed (True), or `timeout` passed."""
        if self._pending or self.closed:
            return True
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiter = waiter
        timer = loop.call_later(timeout, _expire, waiter) if timeout is not None else None
        try:
            await waiter
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()
        return bool(self._pending) or self.closed

    async def __aiter__(self) -> AsyncIterator[_types.Event]:
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
        self._listeners: list[Listener] = []

    def subscribe(self, prefix: str) -> Watcher:
        watcher = Watcher(self, prefix)
        self._watchers.add(watcher)
        return watcher

    def unsubscribe(self, watcher: Watcher) -> None:
        self._watchers.discard(watcher)

    def add_listener(self, listener: Listener) -> None:
        """Call `listener(events)` for every committed batch, before watchers are woken."""
        self._listeners.append(listener)

    def publish(self, events: list[_types.Event]) -> None:
        for listener in self._listeners:
            listener(events)
        for watcher in list(self._watchers):
            prefix = watcher.prefix
            for event in events:
                if event.kv.key.startswith(prefix):
                    watcher.push(event)

    def close_all(self) -> None:
        for watcher in list(self._watchers):
            watcher.close()

    def __len__(self) -> int:
        return len(self._watchers)
