"""Uniqueness of `x-kubernetes-list-type: set` items and `map` keys (`listtype` package).

A set may not hold the same item twice; a map list may not hold two items with the same
key values (a missing key and a null item count as "unspecified", equal to each other).
Only the first repeat of each value is reported, at its index, with the item (sets) or
the key fields (maps) as the duplicate value. Paths use kube's `field.Path` form
(`spec.labels[key]`, `spec.ports[1]`). Map iteration is in sorted key order.
"""

from __future__ import annotations

from typing import Any

from portico.apiserver.apiextensions.schema._gofmt import go_value
from portico.apiserver.apiextensions.schema._node import Node
from portico.apiserver.apiextensions.schema._values import freeze
from portico.apiserver.errors import ErrorType, FieldError

_UNSPECIFIED = object()


def list_errors(node: Node, obj: Any, path: str) -> list[FieldError]:
    """`ValidateListSetsAndMaps` for the object `obj` at `path` ("" at the root)."""
    errs: list[FieldError] = []
    if node.has_list_checks and isinstance(obj, dict):
        _object(node, obj, path, errs)
    return errs


def _child(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _object(node: Node, obj: dict[str, Any], path: str, errs: list[FieldError]) -> None:
    if node.additional is not None and node.additional.has_list_checks:
        for key in sorted(obj):
            _value(node.additional, obj[key], f"{path}[{key}]", errs)
    for key in sorted(obj):
        sub = node.properties.get(key)
        if sub is not None and sub.has_list_checks:
            _value(sub, obj[key], _child(path, key), errs)


def _value(node: Node, value: Any, path: str, errs: list[FieldError]) -> None:
    if isinstance(value, list):
        _array(node, value, path, errs)
    elif isinstance(value, dict):
        _object(node, value, path, errs)


def _array(node: Node, items: list[Any], path: str, errs: list[FieldError]) -> None:
    if node.list_type == "set":
        for i in _repeats([freeze(x) for x in items]):
            errs.append(FieldError(ErrorType.DUPLICATE, f"{path}[{i}]", go_value(items[i])))
    elif node.list_type == "map":
        errs.extend(_map_errors(node, items, path))
    if node.items is not None and node.items.has_list_checks:
        for i, item in enumerate(items):
            _value(node.items, item, f"{path}[{i}]", errs)


def _repeats(keys: list[Any]) -> list[int]:
    """Indices of the second occurrence of each repeated key."""
    seen: dict[Any, int] = {}
    repeats = []
    for i, key in enumerate(keys):
        seen[key] = seen.get(key, 0) + 1
        if seen[key] == 2:
            repeats.append(i)
    return repeats


def _map_errors(node: Node, items: list[Any], path: str) -> list[FieldError]:
    for i, item in enumerate(items):
        if item is not None and not isinstance(item, dict):
            return [FieldError(ErrorType.INVALID, f"{path}[{i}]", go_value(item),
                               "must be an object for an array of list-type map")]
    keys: list[dict[str, Any]] = []
    for item in items:
        item = item or {}
        keys.append({k: item[k] for k in node.list_map_keys if k in item})
    frozen = [freeze(k) for k in keys]
    return [FieldError(ErrorType.DUPLICATE, f"{path}[{i}]", go_value(keys[i]))
            for i in _repeats(frozen)]
