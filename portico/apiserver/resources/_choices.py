"""Fields whose values come from a closed set (policies, protocols, address families),
checked as apimachinery's validators word it: `Required` when a required one is empty,
`NotSupported` (listing the supported values) when not in the set, `Duplicate` when a
list names a value twice.
"""

from __future__ import annotations

from typing import Any

from portico.apiserver.errors import FieldError, duplicate, not_supported, required


def validate_required_choice(value: Any, path: str,
                             supported: tuple[str, ...]) -> list[FieldError]:
    """A required field that must be one of `supported`: `Required` when empty, else
    `NotSupported` when not one of them."""
    if not value:
        return [required(path)]
    if value not in supported:
        return [not_supported(path, value, supported)]
    return []


def validate_unique_choices(values: list[Any], path: str,
                            supported: tuple[str, ...]) -> list[FieldError]:
    """A list whose items are each one of `supported` and appear once: `NotSupported`
    and `Duplicate` at `path[i]`."""
    errs: list[FieldError] = []
    seen: set[Any] = set()
    for i, value in enumerate(values):
        if value not in supported:
            errs.append(not_supported(f"{path}[{i}]", value, supported))
        if value in seen:
            errs.append(duplicate(f"{path}[{i}]", value))
        seen.add(value)
    return errs
