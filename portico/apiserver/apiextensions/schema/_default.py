"""Defaulting (`defaulting.Default`) after dropping nulls (`PruneNonNullableNullsWithoutDefaults`).

First every null whose schema is neither nullable nor defaulted is deleted (never an
error). Then, top-down, each property with a `default` is filled in when absent, or when
null and not nullable; defaulting continues inside the inserted values, so nested
defaults apply to them too. `items.default` and `additionalProperties.default` only
replace null elements. Defaults are deep-copied, never shared between objects.
"""

from __future__ import annotations

from typing import Any

from portico.apiserver.apiextensions.schema._node import MISSING, Node


def json_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: json_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_copy(v) for v in value]
    return value


def prune_nulls(value: Any, node: Node | None) -> None:
    if node is None:
        return
    if isinstance(value, dict):
        for key in list(value):
            sub = node.properties.get(key)
            if sub is None and node.additional_present:
                sub = node.additional
            if sub is None:
                continue
            child = value[key]
            if child is None:
                if not sub.nullable and sub.default is MISSING:
                    del value[key]
            elif isinstance(child, dict | list):
                prune_nulls(child, sub)
    elif isinstance(value, list) and node.items is not None:
        for item in value:
            if isinstance(item, dict | list):
                prune_nulls(item, node.items)


def apply_defaults(value: Any, node: Node) -> None:
    if isinstance(value, dict):
        _default_map(value, node)
    elif isinstance(value, list) and node.items is not None:
        items = node.items
        for i, item in enumerate(value):
            if item is None and not items.nullable and items.default is not MISSING:
                value[i] = item = json_copy(items.default)
            if items.has_defaults and isinstance(item, dict | list):
                apply_defaults(item, items)


def _default_map(value: dict[str, Any], node: Node) -> None:
    for key, prop in node.properties.items():
        if prop.default is MISSING:
            continue
        if key not in value or (value[key] is None and not prop.nullable):
            value[key] = json_copy(prop.default)
    additional = node.additional
    for key, child in value.items():
        sub: Node | None = node.properties.get(key)
        if sub is None and additional is not None:
            if child is None and not additional.nullable and additional.default is not MISSING:
                value[key] = child = json_copy(additional.default)
            sub = additional
        if sub is not None and sub.has_defaults and isinstance(child, dict | list):
            apply_defaults(child, sub)
