"""Typed views of an informer's objects, parsed once per object version.

An informer caches the JSON the API server sent; a component reads it through
the frozen views of `portico.model` (`core.Service.from_obj`, ...) or views of
its own built on them. `Views` parses each cached object once, when it is
first asked for after a change, and keeps the result until the object changes
again, so a sync that reads every Service does not parse every Service each time.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from typing import Generic, TypeVar

from portico.client._api import Obj
from portico.client._informer import Informer, key_of

V = TypeVar("V")


class Views(Generic[V]):
    def __init__(self, informer: Informer, parse: Callable[[Obj], V]) -> None:
        self._informer = informer
        self._parse = parse
        self._parsed: dict[str, tuple[Obj, V]] = {}
        informer.add_handler(self._changed)

    def _changed(self, previous: Obj | None, current: Obj | None) -> None:
        self._parsed.pop(key_of(current if current is not None else previous or {}), None)

    def _view(self, key: str, obj: Obj) -> V:
        cached = self._parsed.get(key)
        if cached is not None and cached[0] is obj:
            return cached[1]
        view = self._parse(obj)
        self._parsed[key] = (obj, view)
        return view

    def get(self, key: str) -> V | None:
        obj = self._informer.get(key)
        return None if obj is None else self._view(key, obj)

    def list(self, namespace: str | None = None) -> builtins.list[V]:
        return [self._view(key_of(obj), obj) for obj in self._informer.list(namespace)]
