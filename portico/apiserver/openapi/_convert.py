"""Turn the JSON-schema definitions into the `components.schemas` of an OpenAPI v3 document.

The definitions (`portico.apiserver.schema`) are JSON Schema: nullable types as
`["string", "null"]`, references as `#/$defs/<name>`, IntOrString and Quantity as
`oneOf`, and `enum`s on `apiVersion`/`kind`. kube-apiserver serves OpenAPI v3:

- `type` is one string; refs point at `#/components/schemas/<name>`;
- a `$ref` with sibling keys (a property's description) is wrapped as
  `{"allOf": [{"$ref": ...}], "description": ...}`, a bare one stays bare;
- IntOrString is `type: string, format: int-or-string` (plus
  `x-kubernetes-int-or-string: true`), Quantity is `oneOf` string/number;
- descriptions, `required`, `enum`s of named types and every `x-kubernetes-*`
  extension (including `x-kubernetes-group-version-kind` on kinds) are kept.

`closure()` finds every definition a set of roots reaches through `$ref`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from portico.apiserver.schema import Definitions

Schema = dict[str, Any]

REF_PREFIX = "#/components/schemas/"
_DEFS_PREFIX = "#/$defs/"
INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"

_REPLACEMENTS: dict[str, Schema] = {
    INT_OR_STRING: {
        "description": (
            "IntOrString is a type that can hold an int32 or a string.  When used in JSON or "
            "YAML marshalling and unmarshalling, it produces or consumes the inner type.  This "
            "allows you to have, for example, a JSON field that can accept a name or number."
        ),
        "format": "int-or-string",
        "type": "string",
        "x-kubernetes-int-or-string": True,
    },
    QUANTITY: {
        "description": (
            "Quantity is a fixed-point representation of a number. It provides convenient "
            "marshaling/unmarshaling in JSON and YAML, in addition to String() and AsInt64() "
            "accessors."
        ),
        "oneOf": [{"type": "string"}, {"type": "number"}],
    },
}

_SCHEMA_LISTS = ("allOf", "oneOf", "anyOf")
_TYPE_META = ("apiVersion", "kind")


def schema_ref(name: str) -> Schema:
    return {"$ref": REF_PREFIX + name}


def _single_type(kinds: Any) -> Any:
    if isinstance(kinds, list):
        rest = [k for k in kinds if k != "null"]
        return rest[0] if len(rest) == 1 else rest
    return kinds


def map_subschemas(key: str, value: Any, convert: Callable[[Schema], Schema]) -> Any:
    """The value of schema keyword `key` with the schemas nested in it (`properties`,
    `items`, `additionalProperties`, `allOf`/`oneOf`/`anyOf`) passed through `convert`."""
    if key == "properties":
        return {name: convert(prop) for name, prop in value.items()}
    if key in ("items", "additionalProperties") and isinstance(value, dict):
        return convert(value)
    if key in _SCHEMA_LISTS:
        return [convert(item) for item in value]
    return value


def convert(schema: Schema, kind_root: bool = False) -> Schema:
    """One schema in OpenAPI v3 form; `kind_root` drops the `enum` on apiVersion/kind."""
    out: Schema = {}
    for key, value in schema.items():
        if key == "$ref":
            continue
        if key == "type":
            out["type"] = _single_type(value)
        elif key == "properties":
            out["properties"] = {
                name: _property(name, prop, kind_root) for name, prop in value.items()
            }
        else:
            out[key] = map_subschemas(key, value, convert)
    ref = schema.get("$ref")
    if ref is None:
        return out
    target = schema_ref(ref.removeprefix(_DEFS_PREFIX))
    return {"allOf": [target], **out} if out else target


def _property(name: str, prop: Schema, kind_root: bool) -> Schema:
    if kind_root and name in _TYPE_META and "enum" in prop:
        prop = {k: v for k, v in prop.items() if k != "enum"}
    return convert(prop)


def definition(defs: Definitions, name: str) -> Schema:
    """The OpenAPI v3 form of the definition `name`."""
    if name in _REPLACEMENTS:
        return dict(_REPLACEMENTS[name])
    schema = defs.defs[name]
    return convert(schema, kind_root="x-kubernetes-group-version-kind" in schema)


def _refs(schema: Any, found: set[str]) -> None:
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str):
            found.add(ref.removeprefix(_DEFS_PREFIX))
        for key, value in schema.items():
            if key != "enum":
                _refs(value, found)
    elif isinstance(schema, list):
        for item in schema:
            _refs(item, found)


def closure(defs: Definitions, roots: Iterable[str]) -> list[str]:
    """Every definition reachable from `roots` (roots included), sorted by name."""
    seen: set[str] = set()
    todo = [name for name in roots if name in defs.defs]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        found: set[str] = set()
        _refs(defs.defs[name], found)
        todo.extend(sorted(n for n in found - seen if n in defs.defs))
    return sorted(seen)


def components(defs: Definitions, roots: Iterable[str]) -> dict[str, Schema]:
    """`components.schemas` for a document whose kinds are `roots`."""
    return {name: definition(defs, name) for name in closure(defs, roots)}
