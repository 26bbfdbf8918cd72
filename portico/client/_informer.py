"""Informers: a list+watch cache of one kind, kept in memory, with change handlers.

Theory of operation (client-go's reflector + indexer, kopf's watcher):
- `start()` lists the kind (all namespaces), fills the cache, marks the informer
  synced, then watches from the list's resourceVersion, with bookmarks. Every
  event replaces the cached object and calls the handlers with
  `(previous, current)`; `current` is None for a deletion, `previous` None for
  an addition. Every event and bookmark advances the version the informer has seen.
- When the watch fails (a dropped connection, a restarted server) the informer
  waits `retry_seconds` on its clock and watches again from the last version it
  saw, as client-go's reflector does. Only 410 Gone (that version is compacted
  away) makes it list again; the new listing is diffed against the cache, so
  handlers still see every change as previous/current pairs and nothing is lost.
- Objects are plain dicts (the JSON the API server sent); the cache is the
  only copy and callers must not mutate what `get`/`list` return.
- `assume(obj)` writes a controller's own successful write through to the cache,
  so the next sync sees it before the watch event arrives. The cache never goes
  backwards: an event older (by resourceVersion) than the cached copy is ignored.
- `speculate(obj)` caches a change not written yet (the scheduler's placement while
  its binding is in flight, kube's "assumed" pod). Nothing of the same
  resourceVersion replaces it (a late ADDED event, another controller's
  write-through of the same version): only a newer version, or
  `forget_speculation` when the binding failed.
- A deleted object never comes back: each deletion leaves a tombstone (the key and
  the deletion's resourceVersion, or the cached one when a controller deletes), and
  nothing of that version or older is cached again (a controller's write-through
  answered before the deletion but arriving after its DELETED event, a stale
  event); a newer version (the name created anew) replaces the tombstone, and a
  deletion older than the cached copy (the old object's DELETED event after the new
  one's write-through, a listing older than it) leaves that copy alone.
  Tombstones are forgotten after `TOMBSTONE_SECONDS`, far longer than a request.

Handlers must be cheap and never block: they only enqueue keys on a `WorkQueue`.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import logging
from collections.abc import Callable, Mapping

from portico.client._api import Api, ApiError, Obj
from portico.client._clock import REAL_CLOCK, Clock
from portico.model.kinds import Kind
from portico.model.vocabulary import WatchEventType

log = logging.getLogger("portico.client.informer")

Handler = Callable[[Obj | None, Obj | None], None]
TOMBSTONE_SECONDS = 300.0


def key_of(obj: Obj) -> str:
    """`namespace/name` for namespaced objects, `name` otherwise (client-go's MetaNamespaceKey)."""
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{ns}/{meta.get('name')}" if ns else str(meta.get("name"))


def split_key(key: str) -> tuple[str | None, str]:
    ns, _, name = key.rpartition("/")
    return (ns or None), name


def _parse_rv(version: str | int | None) -> int:
    try:
        return int(version or 0)
    except ValueError:  # opaque resourceVersions: treat every event as newer
        return 0


def _rv(obj: Obj | None) -> int:
    return _parse_rv((obj or {}).get("metadata", {}).get("resourceVersion"))


class Informer:
    """The cache of one kind; `namespace=None` watches every namespace, `fields` (a field
    selector, e.g. {"spec.nodeName": node}) narrows the list and the watch."""

    def __init__(self, api: Api, kind: Kind, namespace: str | None = None,
                 retry_seconds: float = 0.5, clock: Clock = REAL_CLOCK,
                 fields: Mapping[str, str] | None = None) -> None:
        self.api = api
        self.kind = kind
        self.namespace = namespace
        self.fields = dict(fields or {})
        self.retry_seconds = retry_seconds
        self._clock = clock
        self._version: str | None = None  # the last resourceVersion seen (list, event, bookmark)
        self._cache: dict[str, Obj] = {}
        self._speculative: dict[str, int] = {}  # key -> resourceVersion speculated on
        # key -> (resourceVersion deleted at, when); oldest first
        self._tombstones: dict[str, tuple[int, float]] = {}
        self._by_namespace: dict[str | None, dict[str, Obj]] = {}
        self._handlers: list[Handler] = []
        self._synced = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def name(self) -> str:
        return self.kind.name

    def add_handler(self, handler: Handler) -> None:
        """Call `handler` on every change from now on, and at once as an addition for every
        object already cached (client-go's AddEventHandler: a handler added to a running,
        shared informer misses nothing)."""
        self._handlers.append(handler)
        for obj in [*self._cache.values()]:
            handler(None, obj)

    # --- reads -------------------------------------------------------------------------
    def get(self, key: str) -> Obj | None:
        return self._cache.get(key)

    def list(self, namespace: str | None = None) -> builtins.list[Obj]:
        if namespace is None:
            return [*self._cache.values()]
        return [*self._by_namespace.get(namespace, {}).values()]

    def list_keys(self) -> builtins.list[str]:
        return [*self._cache]

    @property
    def synced(self) -> bool:
        return self._synced.is_set()

    async def wait_synced(self) -> None:
        await self._synced.wait()

    # --- writes ------------------------------------------------------------------------
    def assume(self, obj: Obj) -> None:
        """Write a controller's own write through (the server's answer to it)."""
        self._store(obj)

    def assume_deleted(self, key: str) -> None:
        """A controller's own successful delete: gone, and no older copy comes back."""
        self._remove(key)

    def speculate(self, obj: Obj) -> None:
        """Cache a change not yet written (the scheduler's placement while it is being
        bound): kept over any copy of the same resourceVersion, until a newer one
        arrives or `forget_speculation` takes it back."""
        if self._store(obj, speculative=True):
            self._speculative[key_of(obj)] = _rv(obj)

    def forget_speculation(self, original: Obj) -> None:
        """Back to `original` if the speculation made on it is still cached."""
        key = key_of(original)
        if self._speculative.get(key) == _rv(original) and _rv(original):
            del self._speculative[key]
            self._store(original, speculative=True)

    def _store(self, obj: Obj, speculative: bool = False) -> bool:
        """Cache `obj` unless the cached copy is newer (or a speculation on the same
        version); True if cached."""
        key = key_of(obj)
        previous = self._cache.get(key)
        rv = _rv(obj)
        if self._buried(key, rv):
            return False
        if previous is not None and rv:
            if rv < _rv(previous):
                return False
            if not speculative and rv == self._speculative.get(key):
                return False
        if rv > self._speculative.get(key, rv):
            del self._speculative[key]
        if previous == obj:
            return True
        self._cache[key] = obj
        ns = (obj.get("metadata") or {}).get("namespace")
        self._by_namespace.setdefault(ns, {})[key] = obj
        self._notify(previous, obj)
        return True

    def _buried(self, key: str, rv: int) -> bool:
        """True if `key` was deleted at `rv` or later; a newer version unburies it."""
        tombstone = self._tombstones.get(key)
        if tombstone is None or not rv:
            return False
        if rv <= tombstone[0]:
            return True
        del self._tombstones[key]
        return False

    def _bury(self, key: str, rv: int) -> None:
        now = self._clock.now()
        while self._tombstones:
            oldest = next(iter(self._tombstones))
            if now - self._tombstones[oldest][1] < TOMBSTONE_SECONDS:
                break
            del self._tombstones[oldest]
        if rv:
            self._tombstones.pop(key, None)  # re-inserted last: the order stays by time
            self._tombstones[key] = (rv, now)

    def _remove(self, key: str, deleted_at: int = 0) -> None:
        """Drop `key`, leaving a tombstone at `deleted_at` (or the cached version) -
        unless the cached copy is newer than the deletion: an object of the same name
        created since (written through before the old one's DELETED event arrived)."""
        if deleted_at and _rv(self._cache.get(key)) > deleted_at:
            return
        self._speculative.pop(key, None)
        previous = self._cache.pop(key, None)
        self._bury(key, max(deleted_at, _rv(previous)))
        if previous is None:
            return
        ns = (previous.get("metadata") or {}).get("namespace")
        self._by_namespace.get(ns, {}).pop(key, None)
        self._notify(previous, None)

    def _notify(self, previous: Obj | None, current: Obj | None) -> None:
        for handler in self._handlers:
            try:
                handler(previous, current)
            except Exception:  # noqa: BLE001 - a bad handler must not stop the informer
                log.exception("%s informer: handler failed", self.name)

    # --- list + watch ------------------------------------------------------------------
    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"informer-{self.name}")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                if self._version is None or not self.synced:
                    self._version = await self._relist()
                    self._synced.set()
                await self._watch()
            except asyncio.CancelledError:
                raise
            except ApiError as error:
                if error.code == 410:  # the version is gone: list again, now
                    log.debug("%s informer: %s; relisting", self.name, error)
                    self._version = None
                    continue
                log.debug("%s informer: watch failed (%s); resuming", self.name, error)
                await self._clock.sleep(self.retry_seconds)
            except Exception as exc:  # noqa: BLE001 - watches are re-established
                log.debug("%s informer: watch ended (%s); resuming", self.name, exc)
                await self._clock.sleep(self.retry_seconds)

    async def _relist(self) -> str | None:
        listing = await self.api.list(self.kind, self.namespace, fields=self.fields or None)
        seen: set[str] = set()
        for obj in listing.items:
            seen.add(key_of(obj))
            self._store(obj)
        for key in [k for k in self._cache if k not in seen]:
            self._remove(key, _parse_rv(listing.resource_version))
        return listing.resource_version

    async def _watch(self) -> None:
        async for event in self.api.watch(self.kind, self.namespace, self._version,
                                          fields=self.fields or None):
            obj = event.object
            version = (obj.get("metadata") or {}).get("resourceVersion")
            if event.type == WatchEventType.DELETED:
                self._remove(key_of(obj), _rv(obj))
            elif event.type in (WatchEventType.ADDED, WatchEventType.MODIFIED):
                self._store(obj)
            if version:
                self._version = str(version)
        raise ConnectionError("watch stream closed")


_FactoryKey = tuple[Kind, str | None, tuple[tuple[str, str], ...]]


class InformerFactory:
    """One shared informer per (kind, namespace, field selector), as client-go's
    SharedInformerFactory."""

    def __init__(self, api: Api, clock: Clock = REAL_CLOCK) -> None:
        self.api = api
        self._clock = clock
        self._informers: dict[_FactoryKey, Informer] = {}
        self._started: set[_FactoryKey] = set()

    def informer(self, kind: Kind, namespace: str | None = None,
                 fields: Mapping[str, str] | None = None) -> Informer:
        key = (kind, namespace, tuple(sorted((fields or {}).items())))
        if key not in self._informers:
            self._informers[key] = Informer(self.api, kind, namespace, clock=self._clock,
                                            fields=fields)
        return self._informers[key]

    def start(self) -> None:
        for key, informer in self._informers.items():
            if key not in self._started:
                self._started.add(key)
                informer.start()

    async def wait_synced(self) -> None:
        for informer in list(self._informers.values()):
            await informer.wait_synced()

    async def stop(self) -> None:
        for informer in self._informers.values():
            await informer.stop()
