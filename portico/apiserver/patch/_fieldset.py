"""Field sets in structured-merge-diff's vocabulary, and their `fieldsV1` encoding.

A path element is kept as its `fieldsV1` key string: `f:<name>` (struct field or map
key), `k:<json of the list-map keys>` (associative-list item), `v:<json value>` (set
item) or `i:<index>`. A path is a tuple of elements; a field set is a frozenset of
paths. `encode` builds the trie kube stores (`.` marks a node that is itself a
member, children sorted as SMD sorts path elements); `decode` reads it back.
`path_string` renders a path as conflict messages do: `.spec.ports[port=80,protocol="TCP"]`.
"""

from __future__ import annotations

import json
from typing import Any

Path = tuple[str, ...]
FieldSet = frozenset[Path]

EMPTY: FieldSet = frozenset()


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


def field(name: str) -> str:
    return "f:" + name


def key_element(keys: dict[str, Any]) -> str:
    return "k:" + _json(keys)


def value_element(value: Any) -> str:
    return "v:" + _json(value)


def index_element(index: int) -> str:
    return f"i:{index}"


def _value_rank(value: Any) -> tuple[Any, ...]:
    """An order over JSON values close to SMD's `value.Compare`."""
    if value is None:
        return (0,)
    if isinstance(value, bool):
        return (3, value)
    if isinstance(value, int | float):
        return (1, value)
    if isinstance(value, str):
        return (2, value)
    if isinstance(value, list):
        return (4, tuple(_value_rank(v) for v in value))
    return (5, tuple((k, _value_rank(value[k])) for k in sorted(value)))


def element_order(element: str) -> tuple[Any, ...]:
    """Sort key of a path element: fields, then keys, then values, then indices."""
    tag, body = element[0], element[2:]
    if tag == "f":
        return (0, body)
    if tag == "k":
        keys = json.loads(body)
        return (1, tuple((k, _value_rank(keys[k])) for k in sorted(keys)))
    if tag == "v":
        return (2, _value_rank(json.loads(body)))
    return (3, int(body))


def _go_string(value: Any) -> str:
    """SMD's `value.ToString`: strings quoted, numbers and booleans bare."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_go_string(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_go_string(value[k])}" for k in sorted(value)) + "}"
    return str(value)


def element_string(element: str) -> str:
    tag, body = element[0], element[2:]
    if tag == "f":
        return "." + body
    if tag == "k":
        keys = json.loads(body)
        return "[" + ",".join(f"{k}={_go_string(keys[k])}" for k in sorted(keys)) + "]"
    if tag == "v":
        return f"[={_go_string(json.loads(body))}]"
    return f"[{body}]"


def path_string(path: Path) -> str:
    return "".join(element_string(e) for e in path)


def _trie(paths: FieldSet) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for path in paths:
        node = root
        for element in path:
            node = node.setdefault(element, {})
        node["."] = {}
    return root


def _emit(node: dict[str, Any], top: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    children = sorted((k for k in node if k != "."), key=element_order)
    member = "." in node
    if member and not children:
        return {}
    if member and not top:
        out["."] = {}
    for key in children:
        out[key] = _emit(node[key], False)
    return out


def encode(paths: FieldSet) -> dict[str, Any]:
    """The `fieldsV1` object of a field set."""
    return _emit(_trie(paths), True)


def decode(fields: Any, prefix: Path = ()) -> FieldSet:
    """The field set a `fieldsV1` object describes."""
    out: set[Path] = set()
    if not isinstance(fields, dict):
        return frozenset()
    for key, child in fields.items():
        if key == ".":
            if prefix:
                out.add(prefix)
            continue
        path = prefix + (key,)
        if not child:
            out.add(path)
        else:
            out |= decode(child, path)
    return frozenset(out)


def iterate(paths: FieldSet) -> list[Path]:
    """Paths in SMD's `Set.Iterate` order: a node's members, then its children, sorted."""
    out: list[Path] = []

    def walk(node: dict[str, Any], prefix: Path) -> None:
        keys = sorted((k for k in node if k != "."), key=element_order)
        out.extend(prefix + (k,) for k in keys if "." in node[k])
        for key in keys:
            walk(node[key], prefix + (key,))

    walk(_trie(paths), ())
    return out


def without_prefixes(paths: FieldSet, prefixes: FieldSet) -> FieldSet:
    """Drop every path that starts with one of `prefixes` (SMD's exclude filter)."""
    if not prefixes:
        return paths
    return frozenset(
        p for p in paths if not any(p[: len(q)] == q for q in prefixes)
    )
