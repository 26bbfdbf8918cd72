"""Follow Namespaces, Services and EndpointSlices through shared informers; publish `DnsView`s.

Theory of operation: one informer per kind (`portico.client.InformerFactory`:
list, then watch from the list's resourceVersion, resume after errors, relist
on 410 Gone with the difference reported as changes) keeps that kind's objects.
Every change schedules one rebuild on the event loop (`call_soon`), so a burst
of events in one loop iteration yields one new view; the rebuild is the pure
`build_view` over the informers' caches and is handed to `on_view`, which swaps
it in. The view is `synced` once every informer has listed once; `ready` is set
then too (what /ready reports), as CoreDNS's `HasSynced`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from portico.client import InformerFactory, Obj
from portico.dns._view import DEFAULT_TTL, DEFAULT_ZONE, DnsView, build_view
from portico.model.kinds import ENDPOINT_SLICE, NAMESPACE, SERVICE

log = logging.getLogger("portico.dns.watch")

KINDS = (NAMESPACE, SERVICE, ENDPOINT_SLICE)


class Watcher:
    def __init__(self, informers: InformerFactory, on_view: Callable[[DnsView], None],
                 zone: str = DEFAULT_ZONE, ttl: int = DEFAULT_TTL) -> None:
        self.on_view = on_view
        self.zone = zone
        self.ttl = ttl
        self.ready = asyncio.Event()
        self._factory = informers
        self._informers = {kind: informers.informer(kind) for kind in KINDS}
        self._pending = False
        self._synced_task: asyncio.Task[None] | None = None

    def start(self) -> None:
        for informer in self._informers.values():
            informer.add_handler(self._on_change)
        self._factory.start()
        self._synced_task = asyncio.create_task(self._announce_synced(), name="dns-synced")

    async def stop(self) -> None:
        """Stop publishing; the informers belong to the factory's owner."""
        if self._synced_task is not None:
            self._synced_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._synced_task

    @property
    def synced(self) -> bool:
        return all(informer.synced for informer in self._informers.values())

    def view(self) -> DnsView:
        """The snapshot of what is known now."""
        return build_view(self._informers[NAMESPACE].list(), self._informers[SERVICE].list(),
                          self._informers[ENDPOINT_SLICE].list(), zone=self.zone, ttl=self.ttl,
                          serial=int(time.time()), synced=self.synced)

    async def _announce_synced(self) -> None:
        """Publish once every kind has been listed (even when nothing changed since)."""
        for informer in self._informers.values():
            await informer.wait_synced()
        self._changed()

    def _on_change(self, _previous: Obj | None, _current: Obj | None) -> None:
        self._changed()

    def _changed(self) -> None:
        if not self._pending:
            self._pending = True
            asyncio.get_running_loop().call_soon(self._publish)

    def _publish(self) -> None:
        self._pending = False
        self.on_view(self.view())
        if self.synced:
            self.ready.set()
