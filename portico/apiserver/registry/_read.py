"""Get, list and watch: selectors, paging and the event filtering kube-apiserver does.

A list returns `Stored` items (see `_objects`): each the key's stored version
plus the shared memo of values derived from it, so the Table and JSON responses
of unchanged objects are not recomputed; `ListResult.items` decodes them (objects
of the caller's own). `get` always decodes afresh as well.

A watch is a `WatchStream`: the initial ADDED events (for resourceVersion "0" or
none) and then, batch by batch, every matching change. Each change is decoded
once for all its watchers (`_decoded`); those objects are shared as well.
"""

from __future__ import annotations

import asyncio
import builtins
import functools
from collections.abc import Iterable
from dataclasses import dataclass

from portico.apiserver import errors
from portico.apiserver.paging import EXPIRED_CONTINUE_MESSAGE, decode_continue, encode_continue
from portico.apiserver.registry._objects import (
    MemoCache,
    Stored,
    decode,
    labels,
    object_key,
    prefix_for,
)
from portico.apiserver.resources._base import Object, ResourceType
from portico.apiserver.selectors import (
    FieldSelector,
    LabelSelector,
    parse_field_selector,
    parse_label_selector,
)
from portico.store import Compacted, Event, EventType, KeyValue, SqliteStore, Watcher


@dataclass(frozen=True)
class ListOptions:
    label_selector: str = ""
    field_selector: str = ""
    limit: int = 0
    continue_token: str = ""
    resource_version: str = ""


@dataclass(frozen=True)
class ListResult:
    stored: list[Stored]
    resource_version: int
    continue_token: str = ""
    remaining: int | None = None

    @property
    def items(self) -> list[Object]:
        return [item.object() for item in self.stored]


@dataclass(frozen=True)
class WatchEvent:
    type: str  # ADDED, MODIFIED, DELETED
    object: Object


class Filter:
    """A parsed label and field selector for one kind."""

    def __init__(self, rt: ResourceType, opts: ListOptions) -> None:
        self.rt = rt
        self.labels: LabelSelector | None = (
            parse_label_selector(opts.label_selector) if opts.label_selector else None
        )
        supported = {"metadata.name", "metadata.namespace", *rt.field_selectors}
        self.fields: FieldSelector | None = (
            parse_field_selector(opts.field_selector, supported, rt.kind, rt.api_version,
                                 rt.custom is not None)
            if opts.field_selector else None
        )

    def matches(self, obj: Object) -> bool:
        if self.labels is not None and not self.labels.matches(labels(obj)):
            return False
        if self.fields is not None:
            meta = obj.get("metadata", {})
            values = {"metadata.name": meta.get("name", "")}
            if self.rt.namespaced:
                values["metadata.namespace"] = meta.get("namespace", "")
            for path, getter in self.rt.field_selectors.items():
                values[path] = getter(obj)
            if not self.fields.matches(values):
                return False
        return True

    @property
    def everything(self) -> bool:
        return self.labels is None and self.fields is None


def _single_name(flt: Filter) -> str | None:
    """`metadata.name=X` narrows a list or watch to one key, as kubectl's `get X -w` sends."""
    if flt.fields is None:
        return None
    for field, op, value in flt.fields.requirements():
        if field == "metadata.name" and op in ("=", "=="):
            return value
    return None


class Reader:
    def __init__(self, store: SqliteStore) -> None:
        self.store = store
        self.cache = MemoCache()
        store.hub.add_listener(self.cache.forget)

    def get(self, rt: ResourceType, namespace: str, name: str) -> Object:
        kv = self.store.get(object_key(rt, namespace, name))
        if kv is None:
            raise errors.not_found(rt.plural, name, rt.group)
        return decode(kv)

    def list(self, rt: ResourceType, namespace: str | None, opts: ListOptions) -> ListResult:
        flt = Filter(rt, opts)
        prefix = prefix_for(rt, namespace)
        revision = self.store.revision
        start_after = ""
        if opts.continue_token:
            start, revision = decode_continue(opts.continue_token, opts.resource_version)
            start_after = prefix + start
            if revision < 0:
                revision = self.store.revision
            elif revision < self.store.compacted_revision:
                raise errors.gone(EXPIRED_CONTINUE_MESSAGE)
        items: list[Stored] = []
        name = _single_name(flt)
        if name is not None and (namespace or not rt.namespaced):
            kv = self.store.get(object_key(rt, namespace or "", name))
            self._collect([kv] if kv else [], flt, 0, items)
            return ListResult(items, revision)
        last_key = ""
        batch = max(opts.limit, 500) if opts.limit else 0
        while True:
            kvs = self.store.range(prefix, start_after, batch)
            last_key = self._collect(kvs, flt, opts.limit, items)
            if opts.limit and len(items) >= opts.limit:
                break
            if not batch or len(kvs) < batch:
                last_key = ""
                break
            start_after = kvs[-1].key
        if opts.limit and last_key and self.store.range(prefix, last_key, 1):
            remaining = self.store.count(prefix, last_key) if flt.everything else None
            token = encode_continue(last_key[len(prefix):], revision)
            return ListResult(items, revision, token, remaining)
        return ListResult(items, revision)

    # `list` here is the method above: the builtin is spelled `builtins.list`
    def _collect(self, kvs: Iterable[KeyValue], flt: Filter, limit: int,
                 items: builtins.list[Stored]) -> str:
        """Append the matching objects of `kvs` (up to `limit` items); the last key looked at."""
        memo = self.cache.memo
        everything = flt.everything
        last_key = ""
        for kv in kvs:
            if everything:
                items.append(Stored(kv, memo(kv)))
            else:
                obj = decode(kv)
                if flt.matches(obj):
                    items.append(Stored(kv, memo(kv), obj))
            last_key = kv.key
            if limit and len(items) >= limit:
                break
        return last_key

    def watch(self, rt: ResourceType, namespace: str | None, opts: ListOptions) -> WatchStream:
        """Open a watch: raises `StatusError` for a bad selector or resourceVersion, `Gone`
        for a compacted one."""
        flt = Filter(rt, opts)
        prefix = prefix_for(rt, namespace)
        name = _single_name(flt)
        if name is not None and (namespace or not rt.namespaced):
            prefix = object_key(rt, namespace or "", name)
        initial: list[WatchEvent] = []
        if opts.resource_version in ("", "0"):
            watcher = self.store.watch(prefix, self.store.revision)
            for kv in self.store.range(prefix):
                obj = decode(kv)
                if flt.matches(obj):
                    initial.append(WatchEvent("ADDED", obj))
        else:
            try:
                since = int(opts.resource_version)
            except ValueError:
                raise errors.bad_request(
                    f'invalid resource version: strconv.ParseUint: parsing "'
                    f'{opts.resource_version}": invalid syntax') from None
            try:
                watcher = self.store.watch(prefix, since)
            except Compacted as exc:
                raise errors.gone(
                    f"too old resource version: {since} ({exc.compacted})") from None
        return WatchStream(watcher, flt, prefix, initial)


class WatchStream:
    """An open watch: `next_batch` until it returns None; `close` when done."""

    def __init__(self, watcher: Watcher, flt: Filter, prefix: str,
                 initial: list[WatchEvent]) -> None:
        self._watcher = watcher
        self._filter = flt
        self._prefix = prefix
        self._initial: list[WatchEvent] | None = initial

    async def next_batch(self, timeout: float | None = None) -> list[WatchEvent] | None:
        """The matching events since the last batch, [] when `timeout` passed without any,
        None once the watch has ended."""
        if self._initial:
            batch, self._initial = self._initial, None
            return batch
        watcher = self._watcher
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            left = None if deadline is None else deadline - loop.time()
            if left is not None and left <= 0:
                return []
            await watcher.wait(left)
            changes = watcher.drain()
            if not changes:
                return None if watcher.closed else []
            out = []
            for event in changes:
                converted = _convert(event, self._filter, self._prefix)
                if converted is not None:
                    out.append(converted)
            if out:
                return out

    def close(self) -> None:
        self._watcher.close()


@functools.lru_cache(maxsize=1024)
def _decoded(kv: KeyValue) -> Object:
    """One decode per change however many watchers see it (watchers must not mutate it)."""
    return decode(kv)


def _convert(event: Event, flt: Filter, prefix: str) -> WatchEvent | None:
    if not event.kv.key.startswith(prefix):
        return None
    current = _decoded(event.kv)
    if flt.everything:  # no filter: the previous version need not be decoded
        if event.type is EventType.DELETE:
            return WatchEvent("DELETED", current)
        return WatchEvent("ADDED" if event.prev is None else "MODIFIED", current)
    previous = _decoded(event.prev) if event.prev is not None else None
    if event.type is EventType.DELETE:
        return WatchEvent("DELETED", current) if flt.matches(current) else None
    now_matches = flt.matches(current)
    was_matching = previous is not None and flt.matches(previous)
    if previous is None:
        return WatchEvent("ADDED", current) if now_matches else None
    if now_matches and was_matching:
        return WatchEvent("MODIFIED", current)
    if now_matches:
        return WatchEvent("ADDED", current)
    if was_matching:
        return WatchEvent("DELETED", current)
    return None
