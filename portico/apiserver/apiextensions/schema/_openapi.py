"""A CRD schema in the forms kube-apiserver publishes (OpenAPI v3 and v2).

v3 (`Unfold`): every `x-kubernetes-int-or-string` node gains
`anyOf: [{type: integer}, {type: string}]` (or, when it already has an `anyOf`, an
`allOf` entry holding it), unless it already has that shape; everything else is kept.

v2 (`ToStructuralOpenAPIV2`): after unfolding, the junctors go; a nullable node loses
its type, items and properties (kubectl cannot express null); a preserve-unknown node
loses items and properties; an array left without items loses its type; nullable
properties leave `required`; and defaults are dropped. Both return new dicts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

_INT_OR_STRING = [{"type": "integer"}, {"type": "string"}]
_JUNCTORS = ("allOf", "anyOf", "oneOf", "not")


def _map_tree(schema: Mapping[str, Any], visit: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """Copy `schema`, applying `visit` to every structural node (not inside junctors)."""
    out = dict(schema)
    if isinstance(out.get("properties"), Mapping):
        out["properties"] = {k: _map_tree(v, visit) if isinstance(v, Mapping) else v
                             for k, v in out["properties"].items()}
    if isinstance(out.get("items"), Mapping):
        out["items"] = _map_tree(out["items"], visit)
    if isinstance(out.get("additionalProperties"), Mapping):
        out["additionalProperties"] = _map_tree(out["additionalProperties"], visit)
    visit(out)
    return out


def _unfold(node: dict[str, Any]) -> None:
    if node.get("x-kubernetes-int-or-string") is not True:
        return
    any_of = node.get("anyOf")
    all_of: list[Any] = node["allOf"] if isinstance(node.get("allOf"), list) else []
    first = all_of[0] if all_of else {}
    if any_of == _INT_OR_STRING or (isinstance(first, Mapping) and
                                    first.get("anyOf") == _INT_OR_STRING):
        return
    if not any_of:
        node["anyOf"] = [dict(t) for t in _INT_OR_STRING]
    else:
        node["allOf"] = [{"anyOf": [dict(t) for t in _INT_OR_STRING]}, *all_of]


def _to_v2(node: dict[str, Any]) -> None:
    for junctor in _JUNCTORS:
        node.pop(junctor, None)
    node.pop("default", None)
    if node.pop("nullable", False) is True:
        for key in ("type", "items", "properties"):
            node.pop(key, None)
    if node.get("x-kubernetes-preserve-unknown-fields") is True:
        node.pop("items", None)
        node.pop("properties", None)
    if "items" not in node and node.get("type") == "array":
        del node["type"]
    nullable = {k for k, v in (node.get("properties") or {}).items()
                if isinstance(v, Mapping) and v.get("_nullable")}
    additional = node.get("additionalProperties")
    if isinstance(additional, Mapping) and additional.get("_nullable"):
        node.pop("required", None)
    elif nullable and node.get("required"):
        kept = [r for r in node["required"] if r not in nullable]
        if kept:
            node["required"] = kept
        else:
            del node["required"]


def _mark_nullable(node: dict[str, Any]) -> None:
    if node.get("nullable") is True:
        node["_nullable"] = True


def _drop_marks(node: dict[str, Any]) -> None:
    node.pop("_nullable", None)


def openapi_v3(schema: Mapping[str, Any]) -> dict[str, Any]:
    """The schema as published in `/openapi/v3` (int-or-string unfolded)."""
    return _map_tree(schema, _unfold)


def openapi_v2(schema: Mapping[str, Any]) -> dict[str, Any]:
    """The schema as published in `/openapi/v2` (see the module docstring)."""
    marked = _map_tree(openapi_v3(schema), _mark_nullable)
    return _map_tree(_map_tree(marked, _to_v2), _drop_marks)
