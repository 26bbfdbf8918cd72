"""Tolerant readers for JSON values, used by the views' `from_obj`.

The API's JSON leaves out empty fields (`omitempty`), and objects that reach a
component may come from older writers or tests with odd values.  Each reader takes
whatever is at a field and returns a value of the declared type: missing, `null` or
wrongly typed becomes the field's zero value (or the given default), never an
exception.  Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import TypeVar

E = TypeVar("E", bound=StrEnum)

JSONObject = Mapping[str, object]
"""A JSON object as decoded (`dict[str, Any]` in the callers)."""

_EMPTY: JSONObject = {}


def obj_of(value: object) -> JSONObject:
    """A nested object; `{}` when absent or not an object."""
    return value if isinstance(value, Mapping) else _EMPTY


def objs_of(value: object) -> tuple[JSONObject, ...]:
    """A list of objects; entries that are not objects are skipped."""
    if not isinstance(value, Sequence) or isinstance(value, str | bytes):
        return ()
    return tuple(item for item in value if isinstance(item, Mapping))


def str_of(value: object, default: str = "") -> str:
    return value if isinstance(value, str) else default


def opt_str_of(value: object) -> str | None:
    """A string field whose absence means something (`None`); `""` counts as absent."""
    return value if isinstance(value, str) and value else None


def strs_of(value: object) -> tuple[str, ...]:
    if not isinstance(value, Sequence) or isinstance(value, str | bytes):
        return ()
    return tuple(item for item in value if isinstance(item, str))


def int_of(value: object, default: int = 0) -> int:
    """An integer field; numeric strings are accepted, anything else is `default`."""
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        return int(value)
    return default


def opt_int_of(value: object) -> int | None:
    return None if value is None else int_of(value)


def bool_of(value: object, default: bool = False) -> bool:
    return value if isinstance(value, bool) else default


def labels_of(value: object) -> dict[str, str]:
    """A string map (labels, annotations, selectors); non-string values are skipped."""
    return {k: v for k, v in obj_of(value).items() if isinstance(v, str)}


def enum_of(kind: type[E], value: object, default: E) -> E:
    """A closed-set field; absent or unknown values read as `default`."""
    if isinstance(value, str) and value:
        try:
            return kind(value)
        except ValueError:
            return default
    return default


def int_or_str_of(value: object) -> int | str | None:
    """An `IntOrString` (e.g. `targetPort`): a number, a name, or None when absent."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return int(value) if value.isdigit() else (value or None)
    return None
