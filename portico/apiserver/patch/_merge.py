"""RFC 7386 JSON merge patch (`application/merge-patch+json`), as evanphx/json-patch.

Objects merge key by key, `null` deletes a key, anything else (lists included)
replaces. Nulls inside a value that is newly added are pruned. A patch that is
not an object replaces the document; `null` as the whole patch is rejected.
"""

from __future__ import annotations

from typing import Any

from portico.apiserver.patch._common import deep_copy, plain_error


def _prune_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _prune_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_prune_nulls(v) for v in value if v is not None]
    return value


def _merge(current: Any, patch: Any) -> Any:
    if not isinstance(current, dict):
        return _prune_nulls(patch)
    if not isinstance(patch, dict):
        return patch
    for key, value in patch.items():
        if value is None:
            current.pop(key, None)
        elif key in current:
            current[key] = _merge(current[key], value)
        else:
            current[key] = _prune_nulls(value)
    return current


def merge_patch(original: dict[str, Any], patch: Any) -> Any:
    """Apply a JSON merge patch to a copy of `original` and return the result."""
    if patch is None:
        raise plain_error("Invalid JSON Patch")
    if not isinstance(patch, dict):
        return _prune_nulls(deep_copy(patch))
    return _merge(deep_copy(original), deep_copy(patch))
