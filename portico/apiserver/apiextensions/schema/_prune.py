"""Pruning of unknown fields (`pruning.Prune`), returning the dropped paths.

Walking object and schema together, a map key with no property schema (and no
`additionalProperties`) is deleted, and under an absent schema every key goes. At a
resource root or an `x-kubernetes-embedded-resource` object, `apiVersion`, `kind` and
`metadata` are kept; embedded metadata is then coerced to `ObjectMeta` (unknown keys
dropped and reported). Under `x-kubernetes-preserve-unknown-fields: true` unknown keys
stay, but declared properties below are still pruned. The root's own metadata is left
to the caller (kube coerces it with the request's decoding).

Dropped paths read `spec.ports[0].x` and are returned sorted, as kube lists them in
strict-decoding errors and warnings.
"""

from __future__ import annotations

from typing import Any

from portico.apiserver.apiextensions.schema._embedded import coerce_metadata
from portico.apiserver.apiextensions.schema._node import Node

_META_FIELDS = frozenset(("apiVersion", "kind", "metadata"))


def prune_object(obj: Any, node: Node, is_resource_root: bool,
                 coerce_meta: bool = True) -> list[str]:
    """Prune `obj` in place; `coerce_meta=False` is `pruning.Prune` alone (no ObjectMeta step)."""
    unknown: list[str] = []
    _Pruner(unknown, node if is_resource_root else None, coerce_meta).prune(obj, node, "")
    unknown.sort()
    return unknown


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class _Pruner:
    def __init__(self, unknown: list[str], root: Node | None, coerce_meta: bool) -> None:
        self.unknown = unknown
        self.root = root
        self.coerce_meta = coerce_meta

    def is_resource(self, node: Node) -> bool:
        return node.embedded or node is self.root

    def prune(self, value: Any, node: Node | None, path: str) -> None:
        if node is not None and node.preserve_unknown:
            self.skip(value, node, path)
        elif isinstance(value, dict):
            self.prune_map(value, node, path)
        elif isinstance(value, list):
            items = node.items if node is not None else None
            for i, item in enumerate(value):
                if isinstance(item, dict | list):
                    self.prune(item, items, f"{path}[{i}]")

    def prune_map(self, value: dict[str, Any], node: Node | None, path: str,
                  keep_unknown: bool = False) -> None:
        """Prune a map's values; drop its unknown keys unless `keep_unknown`."""
        if node is None:
            self.unknown.extend(_child(path, k) for k in value)
            value.clear()
            return
        resource = self.is_resource(node)
        for key in list(value):
            if resource and key in _META_FIELDS:
                continue
            sub = node.properties.get(key)
            if sub is not None:
                self.prune(value[key], sub, _child(path, key))
            elif node.additional_present:
                self.prune(value[key], node.additional, _child(path, key))
            elif not keep_unknown:
                self.unknown.append(_child(path, key))
                del value[key]
        if node.embedded and self.coerce_meta:
            coerce_metadata(value, path, self.unknown)

    def skip(self, value: Any, node: Node, path: str) -> None:
        """`skipPrune`: keep unknown keys, prune below the declared ones."""
        if isinstance(value, dict):
            self.prune_map(value, node, path, keep_unknown=True)
        elif isinstance(value, list) and node.items is not None:
            for i, item in enumerate(value):
                self.skip(item, node.items, f"{path}[{i}]")
