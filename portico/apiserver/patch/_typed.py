"""Schema-typed walks over objects for server-side apply (structured-merge-diff semantics).

`TypeInfo` reads a schema node as SMD sees it: a struct (declared properties), a
map (`additionalProperties`), a list (`x-kubernetes-list-type` atomic/set/map with
`x-kubernetes-list-map-keys`), a scalar, or "deduced" when there is no schema
(maps granular, lists atomic). `x-kubernetes-map-type: atomic` makes a map or
struct atomic; lists without a list type are atomic.

The walks are pure functions over decoded JSON:
- `to_field_set(value, info)`: what an applied configuration owns (SMD `ToFieldSet`);
- `all_paths(value, info)`: every addressable node, struct fields as members;
- `compare(old, new, info)`: added / removed / modified paths (SMD `Compare`);
- `merge(live, config, info)`: the applied configuration merged into the live object;
- `remove(value, info, paths)`: drop the nodes at `paths` (SMD `RemoveItems`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from portico.apiserver.patch._fieldset import (
    Path,
    index_element,
    key_element,
    value_element,
)
from portico.apiserver.patch._fieldset import field as field_element
from portico.apiserver.schema import Definitions, definitions
from portico.model.kinds import GroupVersionKind

Schema = dict[str, Any]
# OpenAPI defaults of list-map key fields that the bundled JSON schemas omit.
KEY_DEFAULTS: dict[str, Any] = {"protocol": "TCP"}


class Shape(str, enum.Enum):
    STRUCT = "struct"
    MAP = "map"
    LIST = "list"
    SCALAR = "scalar"
    DEDUCED = "deduced"


class KeyError_(Exception):
    """An associative-list item lacks a key field (SMD's "omits key field" error)."""


@dataclass(frozen=True)
class TypeInfo:
    """How SMD treats one schema node; `prop` is the unresolved property schema."""

    defs: Definitions | None
    prop: Schema | None
    shape: Shape
    atomic: bool = False
    list_type: str = "atomic"
    keys: tuple[str, ...] = ()
    fields: frozenset[str] = field(default_factory=frozenset)

    def child(self, name: str) -> TypeInfo:
        if self.defs is None or self.shape not in (Shape.STRUCT, Shape.MAP):
            return DEDUCED
        return _step(self.defs, self.prop, name)

    def item(self) -> TypeInfo:
        if self.defs is None or self.shape != Shape.LIST:
            return DEDUCED
        return _step(self.defs, self.prop, "[]")

    def is_field(self, name: str) -> bool:
        return self.shape == Shape.STRUCT and name in self.fields


DEDUCED = TypeInfo(None, None, Shape.DEDUCED)
# The built-in definitions' steps, described once per process: (schema id, step) ->
# (schema, its step's TypeInfo). Those definitions are never changed (a custom
# resource's are a new `Definitions` each time, and are described as they come).
_BUILT_IN_STEPS: dict[tuple[int, str], tuple[Schema | None, TypeInfo]] = {}


def _step(defs: Definitions, prop: Schema | None, step: str) -> TypeInfo:
    """`describe` of a property, list item or map value (`step` "[]") of `prop`."""
    if defs is not definitions():
        return describe(defs, defs.child(prop, step))
    known = _BUILT_IN_STEPS.get((id(prop), step))
    if known is not None and known[0] is prop:
        return known[1]
    info = describe(defs, defs.child(prop, step))
    _BUILT_IN_STEPS[(id(prop), step)] = (prop, info)
    return info


def describe(defs: Definitions, prop: Schema | None) -> TypeInfo:
    """The `TypeInfo` of a property schema (pass it unresolved: extensions sit on it)."""
    if prop is None:
        return DEDUCED
    resolved = defs.resolve(prop) or {}
    kinds = defs.types(resolved)
    map_type = prop.get("x-kubernetes-map-type") or resolved.get("x-kubernetes-map-type")
    if "array" in kinds or "items" in resolved:
        info = defs.list_info(prop)
        return TypeInfo(
            defs, prop, Shape.LIST,
            list_type=info.list_type or "atomic", keys=info.list_map_keys,
        )
    if resolved.get("properties"):
        fields = frozenset(resolved["properties"])
        return TypeInfo(defs, prop, Shape.STRUCT, atomic=map_type == "atomic", fields=fields)
    if isinstance(resolved.get("additionalProperties"), dict):
        return TypeInfo(defs, prop, Shape.MAP, atomic=map_type == "atomic")
    if "object" in kinds or not kinds:
        return DEDUCED
    return TypeInfo(defs, prop, Shape.SCALAR)


def root_info(defs: Definitions, gvk: GroupVersionKind) -> TypeInfo:
    root = defs.root(gvk)
    return describe(defs, root) if root is not None else DEDUCED


def granular_list(info: TypeInfo, value: Any) -> bool:
    return info.shape == Shape.LIST and info.list_type in ("set", "map") and isinstance(
        value, list
    )


def granular_map(info: TypeInfo, value: Any) -> bool:
    if not isinstance(value, dict):
        return False
    return info.shape == Shape.DEDUCED or (
        info.shape in (Shape.STRUCT, Shape.MAP) and not info.atomic
    )


def item_element(info: TypeInfo, item: Any, index: int) -> str:
    """The path element of a list item: `k:` for list maps, `v:` for sets."""
    if info.list_type == "set":
        return value_element(item)
    if not info.keys or not isinstance(item, dict):
        return index_element(index)
    keys: dict[str, Any] = {}
    for key in info.keys:
        if key in item and item[key] is not None:
            keys[key] = item[key]
        elif key in KEY_DEFAULTS:
            keys[key] = KEY_DEFAULTS[key]
        else:
            raise KeyError_(
                f"associative list with keys has an element that omits key field {key!r}"
                " (and doesn't have default value)".replace("'", '"')
            )
    return key_element(keys)


def items_by_element(info: TypeInfo, values: list[Any]) -> dict[str, Any]:
    """List items by path element; the first of duplicates wins."""
    out: dict[str, Any] = {}
    for index, item in enumerate(values):
        out.setdefault(item_element(info, item, index), item)
    return out


# -- ToFieldSet -------------------------------------------------------------------------


def to_field_set(value: Any, info: TypeInfo, path: Path = ()) -> set[Path]:
    out: set[Path] = set()
    if granular_map(value=value, info=info):
        for key, child in value.items():
            child_path = path + (field_element(key),)
            out |= to_field_set(child, info.child(key), child_path)
            if child is None or child == {} or not info.is_field(key):
                out.add(child_path)
    elif granular_list(info, value):
        item = info.item()
        for index, child in enumerate(value):
            child_path = path + (item_element(info, child, index),)
            out |= to_field_set(child, item, child_path)
            out.add(child_path)
    elif path and _is_leaf(value, info):
        out.add(path)
    return out


def _is_leaf(value: Any, info: TypeInfo) -> bool:
    if value is None:
        return False
    return not isinstance(value, dict | list) or info.atomic or isinstance(value, list)


def all_paths(value: Any, info: TypeInfo, path: Path = ()) -> set[Path]:
    out: set[Path] = set()
    if granular_map(value=value, info=info):
        for key, child in value.items():
            child_path = path + (field_element(key),)
            out.add(child_path)
            out |= all_paths(child, info.child(key), child_path)
    elif granular_list(info, value):
        item = info.item()
        for index, child in enumerate(value):
            child_path = path + (item_element(info, child, index),)
            out.add(child_path)
            out |= all_paths(child, item, child_path)
    return out


def named_prefixes(path: Path, info: TypeInfo) -> set[Path]:
    """Prefixes of `path` ending in a declared struct field (`EnsureNamedFieldsAreMembers`)."""
    out: set[Path] = set()
    for depth, element in enumerate(path[:-1], start=1):
        if element.startswith("f:"):
            name = element[2:]
            if info.is_field(name):
                out.add(path[:depth])
            info = info.child(name)
        else:
            info = info.item()
    return out
