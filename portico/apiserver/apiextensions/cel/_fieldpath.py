"""A rule's `fieldPath` (`ValidFieldPath`): a JSON path of field and map-key steps.

`.name` and `['name']` step into a property (or, where the schema has
`additionalProperties`, a map key); the result is the `field.Path` suffix that an
error of the rule is reported at (`spec.foo`, `spec.labels[key]`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_TOKENS = re.compile(r"'(?:\\.|[^'\\])*'|[.\[\]]|[^.\[\]']+")
_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
            "'": "'", "\\": "\\"}


class FieldPathError(ValueError):
    pass


def _unquote(token: str) -> str:
    if len(token) < 2 or token[0] != "'" or token[-1] != "'":
        raise FieldPathError(f"expected single quoted string but got {token}")

    def unescape(match: re.Match[str]) -> str:
        if match.group(1) not in _ESCAPES:
            raise FieldPathError(f"invalid escape char {match.group(0)}")
        return _ESCAPES[match.group(1)]

    return re.sub(r"\\(.)", unescape, token[1:-1])


def _step(schema: Mapping[str, Any], name: str, path: str) -> tuple[Mapping[str, Any], str]:
    props = schema.get("properties")
    if props:
        if name not in props:
            raise FieldPathError("does not refer to a valid field")
        return props[name], f"{path}.{name}" if path else name
    extra = schema.get("additionalProperties")
    if isinstance(extra, Mapping):
        return extra, f"{path}[{name}]"
    raise FieldPathError("does not refer to a valid field")


def resolve_field_path(field_path: str, schema: Mapping[str, Any]) -> str:
    """The `field.Path` text of `field_path` below `schema`; raises `FieldPathError`."""
    tokens = _TOKENS.findall(field_path)
    if "".join(tokens) != field_path:
        raise FieldPathError("invalid path")
    path, pos = "", 0
    while pos < len(tokens):
        token = tokens[pos]
        if token == "." and pos + 1 < len(tokens) and tokens[pos + 1] not in ".[]":
            schema, path = _step(schema, tokens[pos + 1], path)
            pos += 2
        elif token == "[" and pos + 2 < len(tokens) and tokens[pos + 2] == "]":
            schema, path = _step(schema, _unquote(tokens[pos + 1]), path)
            pos += 3
        else:
            raise FieldPathError(f"expected [ or . but got: {token}")
    return path
