"""Type-checking field selections against the schema, as cel-go's checker does for kube.

kube-apiserver declares `self` as an object type built from the schema, so
`self.spec.replicsa` fails to compile with `undefined field 'replicsa'`. cel-cpp
sees `self` as `dyn` here; this module re-checks every selection whose operand
has a known object schema (declared `properties`, no preserved unknown fields)
and reports the undefined ones in cel-go's error format, located at the `.`.
At a resource root (and in an embedded resource) `apiVersion`, `kind` and
`metadata` are defined too, and of `metadata` only `name` and `generateName`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from portico.apiserver.apiextensions.cel._cost import Estimator, element_schema
from portico.apiserver.apiextensions.cel._names import unescape
from portico.apiserver.apiextensions.cel._parse import Node

Schema = Mapping[str, Any]
_MACROS = ("all", "exists", "exists_one", "map", "filter")
_RESOURCE_FIELDS = ("apiVersion", "kind", "metadata")
_META_FIELDS = ("name", "generateName")


def _defined(schema: Schema | None, name: str, root: Schema | None) -> bool:
    if not schema or not schema.get("properties"):
        return True
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return True
    resource = schema is root or bool(schema.get("x-kubernetes-embedded-resource"))
    if resource and name in _RESOURCE_FIELDS:
        return True
    return unescape(name) in schema["properties"]


def _visible_meta(estimator: Estimator, node: Node, root: Schema | None) -> bool:
    """Of a resource's `metadata`, CEL sees only `name` and `generateName`."""
    meta = node.target
    if meta is None or meta.kind != "select" or meta.name != "metadata" or meta.target is None:
        return True
    owner = estimator.schema_of(meta.target)
    if owner is None or not (owner is root or owner.get("x-kubernetes-embedded-resource")):
        return True
    return node.name in _META_FIELDS


def _undefined(node: Node, scope: dict[str, Schema | None], root: Schema | None,
               found: list[Node]) -> None:
    estimator = Estimator(scope)
    if node.kind == "select" and node.target is not None and not (
            _defined(estimator.schema_of(node.target), node.name, root)
            and _visible_meta(estimator, node, root)):
        found.append(node)
    if (node.kind == "call" and node.name in _MACROS and node.target is not None
            and len(node.args) >= 2 and node.args[0].kind == "ident"):
        _undefined(node.target, scope, root, found)
        inner = {**scope, node.args[0].name: element_schema(estimator.schema_of(node.target))}
        for arg in node.args[1:]:
            _undefined(arg, inner, root, found)
        return
    if node.target is not None:
        _undefined(node.target, scope, root, found)
    for arg in node.args:
        _undefined(arg, scope, root, found)


def _located(source: str, offset: int, text: str) -> str:
    line_start = source.rfind("\n", 0, offset) + 1
    line_end = source.find("\n", offset)
    line = source[line_start:line_end if line_end >= 0 else len(source)]
    line_no = source.count("\n", 0, offset) + 1
    column = offset - line_start + 1
    return f"ERROR: <input>:{line_no}:{column}: {text}\n | {line}\n | {'.' * (column - 1)}^"


def undefined_field_errors(tree: Node, source: str, schema: Schema,
                           resource_root: bool) -> str:
    """cel-go's text for every selection of an undefined field ("" when there is none)."""
    found: list[Node] = []
    scope: dict[str, Schema | None] = {"self": schema, "oldSelf": schema}
    _undefined(tree, scope, schema if resource_root else None, found)
    return "\n".join(_located(source, n.offset, f"undefined field '{n.name}'") for n in found)
