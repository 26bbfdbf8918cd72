"""List+watch Namespaces, Services and EndpointSlices through lightkube; publish `DnsView`s.

Theory of operation: one task per kind lists it (remembering the list's
resourceVersion), replaces that kind's objects wholesale, then watches from
that version and applies each ADDED/MODIFIED/DELETED event to its dict of raw
objects. Any failure (a dropped stream, 410 Gone, the API being away) starts
over with a fresh list, so the state converges however events were lost.
Every change schedules one rebuild on the event loop (`call_soon`), so a burst
of events in one loop iteration yields one new view; the rebuild is the pure
`build_view` and is handed to `on_view`, which swaps it in. The view is
`synced` once every kind has been listed once; `ready` is set then too (what
/ready reports), as CoreDNS's `HasSynced`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from lightkube import AsyncClient
from lightkube.resources.core_v1 import Namespace, Service
from lightkube.resources.discovery_v1 import EndpointSlice

from portico.dns._view import DEFAULT_TTL, DEFAULT_ZONE, DnsView, build_view
from portico.model.vocabulary import WatchEventType

log = logging.getLogger("portico.dns.watch")

RELIST_DELAY = 0.5
Key = tuple[str, str]
KINDS: tuple[type, ...] = (Namespace, Service, EndpointSlice)


def _key(obj: dict[str, Any]) -> Key:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


class Watcher:
    def __init__(self, client: AsyncClient, on_view: Callable[[DnsView], None],
                 zone: str = DEFAULT_ZONE, ttl: int = DEFAULT_TTL) -> None:
        self.client = client
        self.on_view = on_view
        self.zone = zone
        self.ttl = ttl
        self.objects: dict[type, dict[Key, dict[str, Any]]] = {kind: {} for kind in KINDS}
        self.listed: set[type] = set()
        self.ready = asyncio.Event()
        self._pending = False
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        for kind in KINDS:
            self._tasks.append(asyncio.create_task(self._follow(kind),
                                                   name=f"dns-watch-{kind.__name__}"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def view(self) -> DnsView:
        """The snapshot of what is known now."""
        return build_view(self.objects[Namespace].values(), self.objects[Service].values(),
                          self.objects[EndpointSlice].values(), zone=self.zone, ttl=self.ttl,
                          serial=int(time.time()), synced=len(self.listed) == len(KINDS))

    def _changed(self) -> None:
        if not self._pending:
            self._pending = True
            asyncio.get_running_loop().call_soon(self._publish)

    def _publish(self) -> None:
        self._pending = False
        self.on_view(self.view())
        if len(self.listed) == len(KINDS):
            self.ready.set()

    async def _follow(self, kind: type) -> None:
        while True:
            try:
                await self._list_then_watch(kind)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - relist after any failure
                log.info("watch of %s ended (%s); listing again", kind.__name__, exc)
            await asyncio.sleep(RELIST_DELAY)

    async def _list_then_watch(self, kind: type) -> None:
        namespace = None if kind is Namespace else "*"
        listing = self.client.list(kind, namespace=namespace)  # type: ignore[call-overload]
        fresh = {}
        async for obj in listing:
            raw = obj.to_dict()
            fresh[_key(raw)] = raw
        version = listing.resourceVersion
        self.objects[kind] = fresh
        self.listed.add(kind)
        self._changed()
        stream = self.client.watch(kind, namespace=namespace,  # type: ignore[call-overload]
                                   resource_version=version)
        async for event, obj in stream:
            raw = obj.to_dict()
            if event == WatchEventType.DELETED:
                self.objects[kind].pop(_key(raw), None)
            elif event in (WatchEventType.ADDED, WatchEventType.MODIFIED):
                self.objects[kind][_key(raw)] = raw
            else:
                continue
            self._changed()
