"""Encoding objects for the store and the metadata rules every kind shares.

`MemoCache` is the list path's cache (kube-apiserver keeps a watch cache for
the same reason): per key, a memo dict of values derived from exactly one
`mod_revision` (a Table row, the serialized JSON, the PartialObjectMetadata),
so a list recomputes only what changed since the last list. Memo values are
immutable (tuples, frozen dataclasses, `orjson.Fragment`s) and shared by every
request. The cache keeps no decoded objects: a Python heap of thousands of
nested dicts makes every full garbage collection slow (~50 ms per 10,000
Services), which would show up in watch latency; fragments and tuples of strings
are not even tracked by the collector.

A list hands out `Stored` items: the key's current `KeyValue` and its memo.

The cache holds a subset of the store's current state: entries are added only
from synchronous reads of the current state, and the store's commit listener
(`forget`) drops every key a commit touches before anything else runs.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterable
from typing import Any

import orjson

from portico.apiserver.resources._base import Object, ResourceType
from portico.store import Event, KeyValue

# Characters kube uses for generateName suffixes (no vowels, no confusables).
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"

# metadata fields a client may not set or change; the server owns them.
SERVER_METADATA = ("uid", "creationTimestamp", "resourceVersion", "generation", "selfLink",
                   "deletionTimestamp", "deletionGracePeriodSeconds")


def object_key(rt: ResourceType, namespace: str, name: str) -> str:
    group = rt.group or "core"
    if rt.namespaced:
        return f"/registry/{group}/{rt.plural}/{namespace}/{name}"
    return f"/registry/{group}/{rt.plural}/{name}"


def prefix_for(rt: ResourceType, namespace: str | None) -> str:
    group = rt.group or "core"
    if rt.namespaced and namespace:
        return f"/registry/{group}/{rt.plural}/{namespace}/"
    return f"/registry/{group}/{rt.plural}/"


def encode(obj: Object) -> bytes:
    meta = obj.get("metadata", {})
    if "resourceVersion" in meta:
        obj = {**obj, "metadata": {k: v for k, v in meta.items() if k != "resourceVersion"}}
    return orjson.dumps(obj)


def decode(kv: KeyValue) -> Object:
    obj: Object = orjson.loads(kv.value)
    obj.setdefault("metadata", {})["resourceVersion"] = str(kv.mod_revision)
    return obj


class Stored:
    """One listed object: its stored version and the shared memo of that version.

    `object()` decodes it afresh on every call (the caller owns the result), unless the
    list already decoded it to match a selector. Not keeping decodes lets each die
    young: holding 10,000 decoded objects until a response is written promotes them
    to the oldest generation and makes the collector walk them again and again."""

    __slots__ = ("_object", "kv", "memo")

    def __init__(self, kv: KeyValue, memo: dict[str, Any],
                 obj: Object | None = None) -> None:
        self.kv = kv
        self.memo = memo
        self._object = obj

    def object(self) -> Object:
        return decode(self.kv) if self._object is None else self._object


class MemoCache:
    """Per key, the memo of one mod_revision (see the module docstring)."""

    def __init__(self, capacity: int = 250_000) -> None:
        self.capacity = capacity
        self._entries: dict[str, tuple[int, dict[str, Any]]] = {}

    def memo(self, kv: KeyValue) -> dict[str, Any]:
        """The memo of `kv`, which must be the key's current version in the store."""
        entry = self._entries.get(kv.key)
        if entry is not None and entry[0] == kv.mod_revision:
            return entry[1]
        memo: dict[str, Any] = {}
        self._entries[kv.key] = (kv.mod_revision, memo)
        if len(self._entries) > self.capacity:
            del self._entries[next(iter(self._entries))]
        return memo

    def forget(self, events: Iterable[Event]) -> None:
        """A commit listener: the keys these events touched are no longer current."""
        for event in events:
            self._entries.pop(event.kv.key, None)

    def __len__(self) -> int:
        return len(self._entries)


def generate_name(prefix: str) -> str:
    return prefix + "".join(random.choices(_NAME_ALPHABET, k=5))


def new_uid() -> str:
    return str(uuid.uuid4())


def deep_copy(obj: Object) -> Object:
    """A deep copy of a JSON object; an orjson round trip is several times faster than
    `copy.deepcopy` for these plain trees."""
    copied: Object = orjson.loads(orjson.dumps(obj))
    return copied


def spec_of(obj: Object) -> Any:
    """Everything but metadata and status: what a change of bumps `generation`."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


def labels(obj: Object) -> dict[str, str]:
    return obj.get("metadata", {}).get("labels") or {}
