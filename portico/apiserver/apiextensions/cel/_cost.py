"""Static cost estimates of rules, as kube-apiserver makes them when a CRD is written.

cel-go estimates the worst-case cost of an expression from the declared types:
every comprehension costs the maximum size of what it iterates times the cost
of its body, string functions cost in proportion to the maximum string length.
Sizes come from `maxItems`/`maxProperties`/`maxLength`; where none is declared
kube derives a bound from the 3 MiB request limit and the smallest encoding of
one element (`"",` for strings, `{},` for objects, `0,` for numbers).

This estimator follows the same model on the `_parse` tree with per-call
costs close to cel-go's (1 per operator, select and index; string functions
0.1 per character; regex matching length-proportional). kube then multiplies a
rule's cost by how many times it can run (the product of the sizes of the lists
and maps above the rule's schema node) and refuses a rule over 10^7 and a schema
over 10^8 in total, with `cost_error_text`'s wording.

At runtime (`runtime_cost`) the same estimate is made with the sizes of the value
a rule runs on (`observe`), which is what the per-object budget of 10^7 is
charged for rules whose static estimate is large.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from portico.apiserver.apiextensions.cel._names import unescape
from portico.apiserver.apiextensions.cel._parse import Node

PER_RULE_LIMIT = 10_000_000
PER_SCHEMA_LIMIT = 100_000_000
MAX_REQUEST_BYTES = 3 * 1024 * 1024
Schema = Mapping[str, Any]
Sizes = dict[int, int]  # id(schema node) -> largest actual size seen

_MACROS = ("all", "exists", "exists_one", "map", "filter")
_PREFIX_SCAN = ("startsWith", "endsWith")
_STRING_SCAN = ("contains", "matches", "find", "findAll", "split",
                "replace", "indexOf", "lastIndexOf", "lowerAscii", "upperAscii", "trim",
                "substring", "charAt", "join", "isIP", "isCIDR", "isURL", "isQuantity")
_STRING_FACTOR = 0.1


def _min_encoded_size(schema: Schema | None) -> int:
    kind = (schema or {}).get("type", "")
    if kind in ("integer", "number", "boolean"):
        return 1 if kind != "boolean" else 4
    return 2  # "" or {} or []


def max_cardinality(schema: Schema | None) -> int:
    """The largest number of elements a list or map can hold."""
    schema = schema or {}
    declared = schema.get("maxItems", schema.get("maxProperties"))
    if declared is not None:
        return int(declared)
    element = schema.get("items") or schema.get("additionalProperties")
    element = element if isinstance(element, Mapping) else None
    return (MAX_REQUEST_BYTES - 2) // (_min_encoded_size(element) + 1)


def max_length(schema: Schema | None) -> int:
    schema = schema or {}
    if "maxLength" in schema:
        return int(schema["maxLength"])
    if schema.get("format") in ("date-time", "date", "duration"):
        return 64
    return MAX_REQUEST_BYTES - 2


MAP_KEY: Schema = {"type": "string"}  # what a comprehension over a map ranges over


def element_schema(schema: Schema | None) -> Schema | None:
    """What a comprehension's variable ranges over: list items or map keys."""
    schema = schema or {}
    if schema.get("type") == "array":
        items = schema.get("items")
        return items if isinstance(items, Mapping) else None
    return MAP_KEY


def _select(schema: Schema | None, name: str) -> Schema | None:
    schema = schema or {}
    props = schema.get("properties") or {}
    if props:
        return props.get(unescape(name)) or props.get(name)
    extra = schema.get("additionalProperties")
    return extra if isinstance(extra, Mapping) else None


class Estimator:
    """Worst-case cost of a parsed expression; `scope` maps variables to schemas.

    With `sizes` (from `observe`), the sizes of lists, maps and strings are the ones
    of an actual value instead of the schema's bounds: the runtime estimate."""

    def __init__(self, scope: dict[str, Schema | None], sizes: Sizes | None = None) -> None:
        self.scope = scope
        self.sizes = sizes

    def _cardinality(self, schema: Schema | None) -> int:
        if self.sizes is not None and schema is not None:
            return self.sizes.get(id(schema), 0)
        return max_cardinality(schema)

    def schema_of(self, node: Node) -> Schema | None:
        if node.kind == "ident":
            return self.scope.get(node.name)
        if node.kind == "select" and node.target is not None:
            return _select(self.schema_of(node.target), node.name)
        if node.kind == "index" and node.target is not None:
            target = self.schema_of(node.target) or {}
            if target.get("type") == "array":
                return element_schema(target)
            extra = target.get("additionalProperties")
            return extra if isinstance(extra, Mapping) else None
        if node.kind == "call" and node.name in ("filter",) and node.target is not None:
            return self.schema_of(node.target)
        return None

    def cost(self, node: Node) -> float:
        if node.kind == "literal":
            return 0.0
        if node.kind == "ident":
            return 1.0
        if node.kind == "call" and node.target is not None and node.name in _MACROS:
            return self._macro(node)
        if node.kind == "call" and node.name == "_?_:_":
            cond, then, other = (self.cost(a) for a in node.args)
            return cond + max(then, other)
        inner = sum(self.cost(arg) for arg in node.args)
        if node.target is not None:
            inner += self.cost(node.target)
        if node.kind in ("list", "map"):
            return inner + 10.0
        return inner + self._call_cost(node)

    def _length(self, node: Node | None) -> int:
        """Maximum length of a string operand: a literal's own, else the schema's."""
        if node is None:
            return 0
        if node.kind == "literal":
            return len(node.name)
        schema = self.schema_of(node)
        if schema is None:
            return 0
        if self.sizes is not None:
            return self.sizes.get(id(schema), 0)
        return max_length(schema)

    def _call_cost(self, node: Node) -> float:
        if node.kind != "call":
            return 1.0
        if node.name in _PREFIX_SCAN:
            first = node.args[0] if node.args else None
            return 1.0 + math.ceil(self._length(first) * _STRING_FACTOR)
        if node.name in _STRING_SCAN:
            operand = node.target if node.target is not None else (
                node.args[0] if node.args else None)
            return 1.0 + math.ceil(self._length(operand) * _STRING_FACTOR)
        if node.name == "_in_" and len(node.args) == 2:
            container = node.args[1]
            if container.kind == "list":
                return 1.0 + len(container.args)
            return 1.0 + self._cardinality(self.schema_of(container))
        return 1.0

    def _macro(self, node: Node) -> float:
        assert node.target is not None
        collection = self.schema_of(node.target)
        size = self._cardinality(collection)
        if len(node.args) < 2 or node.args[0].kind != "ident":
            return self.cost(node.target) + size
        variable = node.args[0].name
        inner = Estimator({**self.scope, variable: element_schema(collection)}, self.sizes)
        body = sum(inner.cost(arg) for arg in node.args[1:])
        per_element = body + 1.0 + (1.0 if node.name in ("map", "filter") else 0.0)
        return self.cost(node.target) + size * per_element


def estimate(node: Node, scope: dict[str, Schema | None], sizes: Sizes | None = None) -> int:
    return int(min(Estimator(scope, sizes).cost(node), float(2**63)))


def observe(value: Any, schema: Schema | None, sizes: Sizes) -> None:
    """Record the largest actual size per schema node (strings, lists, maps, map keys)."""
    if schema is None or value is None:
        return
    if isinstance(value, str | list | dict):
        sizes[id(schema)] = max(sizes.get(id(schema), 0), len(value))
    if isinstance(value, list):
        items = schema.get("items")
        for item in value:
            observe(item, items if isinstance(items, Mapping) else None, sizes)
    elif isinstance(value, dict):
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            if props:
                observe(item, props.get(key), sizes)
            elif isinstance(extra, Mapping):
                sizes[id(MAP_KEY)] = max(sizes.get(id(MAP_KEY), 0), len(key))
                observe(item, extra, sizes)


def runtime_cost(trees: tuple[Node, ...], schema: Schema, values: tuple[Any, ...]) -> int:
    """The cost estimate of a rule for the sizes of the values it runs on."""
    sizes: Sizes = {}
    for value in values:
        observe(value, schema, sizes)
    scope: dict[str, Schema | None] = {"self": schema, "oldSelf": schema}
    return sum(estimate(tree, scope, sizes) for tree in trees)


def cost_error_text(cost_name: str, cost: int, limit: int) -> str:
    """`getCostErrorMessage`."""
    factor = cost / limit
    if factor > 100.0:
        shown = "more than 100x"
    elif factor < 1.5:
        shown = f"{factor:f}x"
    else:
        shown = f"{factor:.1f}x"
    return (f"{cost_name} exceeds budget by factor of {shown} (try simplifying the rule, or "
            "adding maxItems, maxProperties, and maxLength where arrays, maps, and strings "
            "are declared)")
