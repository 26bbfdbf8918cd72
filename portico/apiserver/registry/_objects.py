"""Encoding objects for the store and the metadata rules every kind shares.

`DecodeCache` is the list path's object cache (kube-apiserver keeps a watch
cache for the same reason): one decoded object per key, valid for exactly the
`mod_revision` it was decoded at, so a list decodes only what changed since the
last list. Each entry carries a `memo` dict for values derived from that one
version (a Table row, the serialized JSON); they die with the entry.

Invariants: cached objects and memos are shared by every request that lists
them, so nobody may mutate them (copy first). The cache holds a subset of the
store's current state: entries are added only from synchronous reads of the
current state, and the store's commit listener (`forget`) drops every key a
commit touches before anything else runs.
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


class Decoded:
    """One cached version of one key: the decoded object and values derived from it."""

    __slots__ = ("memo", "mod_revision", "object")

    def __init__(self, kv: KeyValue) -> None:
        self.mod_revision = kv.mod_revision
        self.object = decode(kv)
        self.memo: dict[str, Any] = {}


class DecodeCache:
    """Decoded objects by key, each valid for one mod_revision (see the module docstring)."""

    def __init__(self, capacity: int = 250_000) -> None:
        self.capacity = capacity
        self._entries: dict[str, Decoded] = {}

    def get(self, kv: KeyValue) -> Decoded:
        """The cached decode of `kv`, which must be the key's current version in the store."""
        entry = self._entries.get(kv.key)
        if entry is not None and entry.mod_revision == kv.mod_revision:
            return entry
        entry = Decoded(kv)
        self._entries[kv.key] = entry
        if len(self._entries) > self.capacity:
            del self._entries[next(iter(self._entries))]
        return entry

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
