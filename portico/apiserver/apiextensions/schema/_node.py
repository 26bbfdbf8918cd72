"""A CRD schema compiled once into a tree of `Node`s for the per-request algorithms.

Pruning, defaulting and validation walk every custom resource on every write and read,
so the raw `openAPIV3Schema` dict is turned into `Node`s once per CRD version: keyword
lookups become attributes, patterns are compiled, formats kube does not enforce are
dropped (`StripUnsupportedFormatsPostProcess`), and `has_defaults`/`has_list_checks`
let the walkers skip subtrees with nothing to do.

`node_for` caches compiled trees by the identity of the schema dict (keeping the dict
alive so the id cannot be reused), so the module-level functions that take raw schemas
compile each schema only once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from portico.apiserver.apiextensions.schema._formats import enforced_format
from portico.apiserver.apiextensions.schema._regex import Pattern, compile_pattern


class _Missing:
    """The `MISSING` sentinel: no value (an absent old object, an unset default)."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()


@dataclass(eq=False)
class Node:
    """One schema (or one junctor branch), with what the walkers need precomputed."""

    type: str = ""
    types: tuple[str, ...] = ()
    nullable: bool = False
    format: str = ""
    properties: dict[str, Node] = field(default_factory=dict)
    property_order: tuple[str, ...] = ()
    additional: Node | None = None
    additional_present: bool = False
    additional_allows: bool = True
    items: Node | None = None
    required: tuple[str, ...] = ()
    enum: list[Any] | None = None
    maximum: float | None = None
    exclusive_maximum: bool = False
    minimum: float | None = None
    exclusive_minimum: bool = False
    multiple_of: float | None = None
    max_length: int | None = None
    min_length: int | None = None
    max_items: int | None = None
    min_items: int | None = None
    max_properties: int | None = None
    min_properties: int | None = None
    pattern: Pattern | None = None
    unique_items: bool = False
    all_of: tuple[Node, ...] = ()
    any_of: tuple[Node, ...] = ()
    one_of: tuple[Node, ...] = ()
    not_: Node | None = None
    preserve_unknown: bool = False
    embedded: bool = False
    int_or_string: bool = False
    list_type: str = ""
    list_map_keys: tuple[str, ...] = ()
    default: Any = MISSING
    has_defaults: bool = False
    has_list_checks: bool = False
    has_embedded: bool = False

    @property
    def has_junctors(self) -> bool:
        return bool(self.all_of or self.any_of or self.one_of or self.not_ is not None)


def _opt_int(raw: Mapping[str, Any], key: str) -> int | None:
    value = raw.get(key)
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _opt_float(raw: Mapping[str, Any], key: str) -> float | None:
    value = raw.get(key)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    return None


def _strings(raw: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = raw.get(key)
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


def _children(raw: Mapping[str, Any], key: str) -> tuple[Node, ...]:
    return tuple(compile_node(s) for s in raw.get(key) or () if isinstance(s, Mapping))


def _set_children(node: Node, raw: Mapping[str, Any]) -> None:
    props = raw.get("properties")
    if isinstance(props, Mapping):
        node.properties = {k: compile_node(v) for k, v in props.items() if isinstance(v, Mapping)}
        node.property_order = tuple(sorted(node.properties))
    additional = raw.get("additionalProperties")
    if additional is not None:
        node.additional_present = True
        if isinstance(additional, Mapping):
            node.additional = compile_node(additional)
        else:
            node.additional_allows = bool(additional)
    items = raw.get("items")
    if isinstance(items, Mapping):
        node.items = compile_node(items)
    node.all_of = _children(raw, "allOf")
    node.any_of = _children(raw, "anyOf")
    node.one_of = _children(raw, "oneOf")
    if isinstance(raw.get("not"), Mapping):
        node.not_ = compile_node(raw["not"])


def _set_flags(node: Node) -> None:
    subs = [*node.properties.values(), *(n for n in (node.additional, node.items) if n)]
    node.has_defaults = node.default is not MISSING or any(s.has_defaults for s in subs)
    node.has_list_checks = node.list_type in ("set", "map") or any(
        s.has_list_checks for s in subs)
    node.has_embedded = node.embedded or any(s.has_embedded for s in subs)


def compile_node(raw: Mapping[str, Any]) -> Node:
    """Compile one schema dict (recursively) into a `Node`."""
    node = Node(
        type=str(raw.get("type") or ""),
        nullable=bool(raw.get("nullable")),
        required=_strings(raw, "required"),
        enum=list(raw["enum"]) if isinstance(raw.get("enum"), list) else None,
        maximum=_opt_float(raw, "maximum"),
        exclusive_maximum=bool(raw.get("exclusiveMaximum")),
        minimum=_opt_float(raw, "minimum"),
        exclusive_minimum=bool(raw.get("exclusiveMinimum")),
        multiple_of=_opt_float(raw, "multipleOf"),
        max_length=_opt_int(raw, "maxLength"),
        min_length=_opt_int(raw, "minLength"),
        max_items=_opt_int(raw, "maxItems"),
        min_items=_opt_int(raw, "minItems"),
        max_properties=_opt_int(raw, "maxProperties"),
        min_properties=_opt_int(raw, "minProperties"),
        unique_items=bool(raw.get("uniqueItems")),
        preserve_unknown=raw.get("x-kubernetes-preserve-unknown-fields") is True,
        embedded=raw.get("x-kubernetes-embedded-resource") is True,
        int_or_string=raw.get("x-kubernetes-int-or-string") is True,
        list_type=str(raw.get("x-kubernetes-list-type") or ""),
        list_map_keys=_strings(raw, "x-kubernetes-list-map-keys"),
        default=raw.get("default", MISSING),
    )
    node.types = ("integer", "string") if node.int_or_string else (
        (node.type,) if node.type else ())
    node.format = enforced_format(str(raw.get("format") or ""), node.type)
    if raw.get("pattern"):
        node.pattern = compile_pattern(str(raw["pattern"]))
    _set_children(node, raw)
    _set_flags(node)
    return node


_CACHE: dict[int, tuple[Mapping[str, Any], Node]] = {}
_CACHE_LIMIT = 512


def node_for(schema: Mapping[str, Any]) -> Node:
    """The compiled tree of `schema`, compiled on first use."""
    hit = _CACHE.get(id(schema))
    if hit is not None and hit[0] is schema:
        return hit[1]
    node = compile_node(schema)
    if len(_CACHE) >= _CACHE_LIMIT:
        _CACHE.clear()
    _CACHE[id(schema)] = (schema, node)
    return node
