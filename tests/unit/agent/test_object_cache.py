"""The agent's watched ConfigMaps and Secrets (kubelet's watch-based manager).

One list and one watch per (kind, namespace, name), whatever the number of pods that
read it; the watch stops with the last of them; a late object arrives by the watch.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from portico.agent._object_cache import CacheNotSynced, ObjectCache
from portico.client import Listing, WatchEvent
from portico.model.kinds import CONFIG_MAP, SECRET, Kind

Obj = dict[str, Any]


def cm(name: str, rv: int) -> Obj:
    return {"metadata": {"name": name, "namespace": "ns", "resourceVersion": str(rv)},
            "data": {"k": str(rv)}}


class WatchingApi:
    """Lists what `objects` holds; watches stream what `events` gets; counts both."""

    def __init__(self, objects: list[Obj]) -> None:
        self.objects = objects
        self.lists: list[tuple[str, str | None, dict[str, str] | None]] = []
        self.open_watches = 0
        self.events: asyncio.Queue[WatchEvent] = asyncio.Queue()
        self.listed = asyncio.Event()
        self.hold_list = False

    async def list(self, kind: Kind, namespace: str | None = None,
                   fields: dict[str, str] | None = None) -> Listing:
        self.lists.append((kind.plural, namespace, fields))
        while self.hold_list:
            await asyncio.sleep(0.01)
        name = (fields or {}).get("metadata.name")
        return Listing([o for o in self.objects if o["metadata"]["name"] == name], "5")

    async def watch(self, kind: Kind, namespace: str | None = None,
                    resource_version: str | None = None,
                    fields: dict[str, str] | None = None) -> AsyncIterator[WatchEvent]:
        self.open_watches += 1
        try:
            while True:
                yield await self.events.get()
        finally:
            self.open_watches -= 1


REF = (CONFIG_MAP, "ns", "kube-root-ca.crt")


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait for `condition` (the watch tasks run meanwhile); fail after `timeout`."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.001)


def test_pods_share_one_watch_that_stops_with_the_last_of_them() -> None:
    async def main() -> None:
        api = WatchingApi([cm("kube-root-ca.crt", 3)])
        cache = ObjectCache(api)  # type: ignore[arg-type]
        for uid in ("a", "b", "c"):
            cache.register(uid, [REF])
            assert (await cache.get(REF) or {})["data"] == {"k": "3"}
        cache.register("a", [REF])  # again: still one reader "a"
        await until(lambda: api.open_watches > 0)
        assert api.lists == [("configmaps", "ns", {"metadata.name": "kube-root-ca.crt"})]
        assert api.open_watches == 1
        cache.unregister("a")
        cache.unregister("b")
        assert (await cache.get(REF) or {})["data"] == {"k": "3"}  # c still reads it
        assert api.open_watches == 1
        cache.unregister("c")
        await until(lambda: api.open_watches == 0)
        await cache.stop()
    asyncio.run(main())


def test_a_missing_object_is_none_until_its_watch_brings_it() -> None:
    async def main() -> None:
        api = WatchingApi([])
        cache = ObjectCache(api)  # type: ignore[arg-type]
        ref = (SECRET, "ns", "app")
        cache.register("a", [ref])
        assert await cache.get(ref) is None
        created = {"metadata": {"name": "app", "namespace": "ns", "resourceVersion": "7"}}
        await api.events.put(WatchEvent("ADDED", created))
        async with asyncio.timeout(5):  # until the watch has brought it
            while await cache.get(ref) is None:
                await asyncio.sleep(0.001)
        assert await cache.get(ref) == created
        await cache.stop()
    asyncio.run(main())


def test_a_first_listing_that_does_not_come_fails_the_get(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("portico.agent._object_cache.SYNC_TIMEOUT", 0.05)

    async def main() -> None:
        api = WatchingApi([])
        api.hold_list = True
        cache = ObjectCache(api)  # type: ignore[arg-type]
        cache.register("a", [REF])
        with pytest.raises(CacheNotSynced, match="failed to sync configmap cache"):
            await cache.get(REF)
        api.hold_list = False
        await cache.stop()
    asyncio.run(main())
