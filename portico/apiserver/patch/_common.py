"""Helpers shared by the patch types: Go-style value printing, strict equality, errors.

Upstream patch failures surface in three shapes, reproduced here:
- `errors.NewBadRequest(msg)`: 400 BadRequest;
- `errors.NewGenericServerResponse(422, ...)`: 422 Invalid with the fixed message
  "the server rejected our request due to an error in our request" and the real
  error text in one `UnexpectedServerResponse` cause;
- a plain Go error: `ErrorToAPIStatus` makes it 500 with an empty reason.
"""

from __future__ import annotations

from typing import Any

import orjson

from portico.apiserver.errors import StatusError, bad_request

__all__ = [
    "bad_request",
    "deep_copy",
    "go_value",
    "plain_error",
    "same",
    "unprocessable",
]


def deep_copy(value: Any) -> Any:
    """Deep copy of a JSON value (an orjson round trip: much faster than copy.deepcopy)."""
    if isinstance(value, dict | list):
        return orjson.loads(orjson.dumps(value))
    return value


def same(left: Any, right: Any) -> bool:
    """JSON equality as Go's `==` on decoded interfaces: 1 != 1.0 != true."""
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if isinstance(left, int) != isinstance(right, int):
        return False
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(same(v, right[k]) for k, v in left.items())
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(same(a, b) for a, b in zip(left, right, strict=True))
    return type(left) is type(right) and left == right


def go_value(value: Any) -> str:
    """Go's `%v` of a decoded JSON value: `map[a:1 b:[x y]]`, `<nil>`, `true`."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        inner = " ".join(f"{k}:{go_value(value[k])}" for k in sorted(value))
        return f"map[{inner}]"
    if isinstance(value, list):
        return "[" + " ".join(go_value(v) for v in value) + "]"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return str(value)


def unprocessable(message: str) -> StatusError:
    """`errors.NewGenericServerResponse(422, ...)`, as handlers/patch.go returns it."""
    return StatusError(
        422,
        "Invalid",
        "the server rejected our request due to an error in our request",
        {"causes": [{"reason": "UnexpectedServerResponse", "message": message}]},
    )


def plain_error(message: str) -> StatusError:
    """A Go error that is not an API status: `ErrorToAPIStatus` makes it a bare 500."""
    return StatusError(500, "", message)
