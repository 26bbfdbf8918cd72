"""JSON value helpers shared by the walkers: Go-like equality, kinds and hashable keys.

Go compares decoded JSON with `reflect.DeepEqual`, where int64(1), float64(1) and
true are three different values; Python's `==` says they are equal, so `deep_equal`
compares types first. `go_kind` names a value the way kube-openapi's type validator
does (`schemaInfoForType`), with the Go format of numbers.
"""

from __future__ import annotations

from typing import Any


def deep_equal(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(deep_equal(v, b[k]) for k, v in a.items())
    if isinstance(a, list):
        return len(a) == len(b) and all(deep_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def freeze(value: Any) -> Any:
    """A hashable key for a JSON value that keeps Go's distinctions (1, 1.0 and true differ)."""
    if isinstance(value, dict):
        return ("o", tuple(sorted((k, freeze(v)) for k, v in value.items())))
    if isinstance(value, list):
        return ("a", tuple(freeze(v) for v in value))
    return (type(value).__name__, value)


def go_kind(value: Any) -> tuple[str, str]:
    """(JSON type, Go format) of a decoded value: ("integer", "int64"), ("string", "") ..."""
    if isinstance(value, bool):
        return "boolean", ""
    if isinstance(value, int):
        return "integer", "int64"
    if isinstance(value, float):
        return "number", "float64"
    if isinstance(value, str):
        return "string", ""
    if isinstance(value, list):
        return "array", ""
    if isinstance(value, dict):
        return "object", ""
    return "", ""


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_json_integer(value: float) -> bool:
    """go-openapi `swag.IsFloat64AJSONInteger` (relative error below 1e-9)."""
    if value != value or value in (float("inf"), float("-inf")):
        return False
    if value == int(value):
        return True
    nearest = float(int(value))
    return abs(value - nearest) / min(abs(value) + abs(nearest), 1.7976931348623157e308) < 1e-9
