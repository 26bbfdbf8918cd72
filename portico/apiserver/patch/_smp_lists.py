"""List helpers of strategic merge patch: element kinds, `$patch` items, ordering.

The ordering functions port `normalizeElementOrder`: items named by the patch
(or its `$setElementOrder` list) are sorted by that order, server-only items keep
the live order, and the two runs are interleaved by their live positions. Error
constructors here reproduce upstream's Go error texts (`%v` of maps and types).
"""

from __future__ import annotations

from typing import Any

from portico.apiserver.errors import StatusError
from portico.apiserver.patch._common import go_value, plain_error, same, unprocessable

PATCH = "$patch"
SET_ORDER = "$setElementOrder"


def go_type(value: Any) -> str:
    if isinstance(value, dict):
        return "map[string]interface {}"
    if isinstance(value, list):
        return "[]interface {}"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float64"
    if value is None:
        return "%!s(<nil>)"
    return "string"


def value_kind(value: Any) -> str:
    """Go's `reflect.Kind` family of a value: map, slice or a scalar type name."""
    if isinstance(value, dict):
        return "map"
    if isinstance(value, list):
        return "slice"
    return go_type(value)


def bad_arg(expected: str, actual: Any) -> StatusError:
    return plain_error(f"expected a {expected}, but received a {go_type(actual)}")


def no_merge_key(item: dict[str, Any], key: str) -> StatusError:
    return plain_error(f"map: {go_value(item)} does not contain declared merge key: {key}")


def bad_patch_type(directive: Any, patch: dict[str, Any]) -> StatusError:
    return plain_error(f"unknown patch type: {go_value(directive)} in map: {go_value(patch)}")


def element_kind(lists: list[list[Any]]) -> str:
    kind = ""
    for entries in lists:
        for value in entries:
            current = value_kind(value)
            if not kind:
                if current == "slice":
                    raise unprocessable("lists of lists are not supported")
                kind = current
            elif current != kind:
                raise plain_error(f"list element types are not identical: {go_value(lists)}")
    if not kind:
        raise plain_error("no elements in any of the given slices")
    return kind


def dedupe(values: list[Any]) -> list[Any]:
    out: list[Any] = []
    for value in values:
        if not any(same(value, seen) for seen in out):
            out.append(value)
    return out


def find_by_key(entries: list[Any], key: str, value: Any) -> int | None:
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise plain_error(f"value for key {index} is not a map.")
        if key in entry and same(entry[key], value):
            return index
    return None


def special_elements(
    original: list[Any], patch: list[Any], merge_key: str
) -> tuple[list[Any], list[Any]]:
    plain: list[Any] = []
    replace = False
    original = list(original)
    for entry in patch:
        if PATCH not in entry:
            plain.append(entry)
            continue
        directive = entry[PATCH]
        if directive == "delete":
            if merge_key not in entry:
                raise no_merge_key(entry, merge_key)
            while (index := find_by_key(original, merge_key, entry[merge_key])) is not None:
                del original[index]
        elif directive == "replace":
            replace = True
        elif directive == "merge":
            raise plain_error("merging lists cannot yet be specified in the patch")
        else:
            raise bad_patch_type(directive, entry)
    if replace:
        return plain, []
    return original, plain


def identity(value: Any, merge_key: str) -> Any:
    if not merge_key:
        return value
    return value.get(merge_key) if isinstance(value, dict) else None


def index(entries: list[Any], value: Any, merge_key: str) -> int:
    wanted = identity(value, merge_key)
    for position, entry in enumerate(entries):
        if same(identity(entry, merge_key), wanted):
            return position
    return -1


def partition(
    merged: list[Any], present: list[Any], merge_key: str
) -> tuple[list[Any], list[Any]]:
    inside: list[Any] = []
    outside: list[Any] = []
    for value in merged:
        if merge_key:
            if not isinstance(value, dict):
                raise bad_arg("map[string]interface {}", value)
            if merge_key not in value:
                raise no_merge_key(value, merge_key)
        (inside if index(present, value, merge_key) >= 0 else outside).append(value)
    return inside, outside


def validate_order(patch_list: list[Any], order: list[Any], merge_key: str) -> None:
    """`validatePatchWithSetOrderList`: patch items appear in the directive's order."""
    if not patch_list or not order:
        return
    items = patch_list
    if merge_key:
        for value in patch_list:
            if not isinstance(value, dict):
                raise bad_arg("map[string]interface {}", value)
        items = [v for v in patch_list if v.get(PATCH) != "delete"]
    p = s = 0
    while p < len(items) and s < len(order):
        if isinstance(items[p], dict) and PATCH in items[p]:
            p += 1
            continue
        if merge_key:
            for value in (items[p], order[s]):
                if not isinstance(value, dict):
                    raise bad_arg("map[string]interface {}", value)
                if merge_key not in value:
                    raise no_merge_key(value, merge_key)
        if same(identity(items[p], merge_key), identity(order[s], merge_key)):
            p += 1
        s += 1
    if p < len(items) and s >= len(order):
        raise plain_error(
            f"The order in patch list:\n{go_value(patch_list)}\n doesn't match "
            f"{SET_ORDER} list:\n{go_value(order)}\n"
        )


def sort_by(entries: list[Any], order: list[Any], merge_key: str, kind: str) -> list[Any]:
    deleted: list[Any] = []
    if kind == "map":
        for value in entries + order:
            if not isinstance(value, dict) or merge_key not in value:
                raise no_merge_key(value if isinstance(value, dict) else {}, merge_key)
        deleted = [v for v in entries if v.get(PATCH) == "delete"]
        entries = [v for v in entries if v.get(PATCH) != "delete"]

    def position(value: Any) -> int:
        found = index(order, value, merge_key)
        return found if found >= 0 else len(order)

    return sorted(entries, key=position) + deleted


def normalize(
    in_patch: list[Any],
    server_only: list[Any],
    patch_order: list[Any],
    server_order: list[Any],
    merge_key: str,
    kind: str,
) -> list[Any]:
    """`normalizeElementOrder`: patch items by patch order, server-only items interleaved."""
    if kind != "map":
        merge_key = ""
    right = sort_by(in_patch, patch_order, merge_key, kind)
    left = sort_by(server_only, server_order, merge_key, kind)
    out: list[Any] = []
    i = j = 0
    while i < len(left) or j < len(right):
        if i >= len(left):
            out.append(right[j])
            j += 1
        elif j >= len(right):
            out.append(left[i])
            i += 1
        else:
            li = index(server_order, left[i], merge_key)
            ri = index(server_order, right[j], merge_key)
            if li >= 0 and ri >= 0 and li < ri:
                out.append(left[i])
                i += 1
            else:
                out.append(right[j])
                j += 1
    return out
