"""Strategic merge patch (`application/strategic-merge-patch+json`), as apimachinery's code.

Theory of operation: `merge_map` walks the patch alongside the original object
and the kind's schema (`Definitions`). A key whose schema says
`x-kubernetes-patch-strategy: merge` is a list merged item by item: maps by their
`x-kubernetes-patch-merge-key`, primitives by union. Every other list is replaced;
maps merge recursively unless their strategy is `replace`.

Directives, all consumed here and never stored:
- `$patch: replace|delete` on a map, `$patch: delete|replace` on a merging-list item;
- `$retainKeys: [...]` clears original keys not listed (strategy `retainKeys`);
- `$setElementOrder/<list>: [...]` orders the merged list;
- `$deleteFromPrimitiveList/<list>: [...]` removes primitives from a merging list;
- `null` deletes a key.

Errors use upstream's wording and status mapping (`interpretStrategicMergePatchError`):
bad directive formats are 400, lists of lists 422, the rest plain 500 errors.
The server-side options are fixed: `MergeParallelList` and `IgnoreUnmatchedNulls`.
"""

from __future__ import annotations

from typing import Any

from portico.apiserver.errors import bad_request
from portico.apiserver.patch._common import deep_copy, plain_error, same
from portico.apiserver.patch._merge import merge_patch
from portico.apiserver.patch._smp_lists import (
    bad_arg,
    bad_patch_type,
    dedupe,
    element_kind,
    find_by_key,
    no_merge_key,
    normalize,
    partition,
    special_elements,
    validate_order,
    value_kind,
)
from portico.apiserver.schema import Definitions, definitions
from portico.model.kinds import GroupVersionKind

Schema = dict[str, Any]
PATCH = "$patch"
RETAIN_KEYS = "$retainKeys"
SET_ORDER = "$setElementOrder"
DELETE_PRIMITIVES = "$deleteFromPrimitiveList"

_BAD_RETAIN_KEYS = "invalid patch format of retainKeys"
_BAD_PRIMITIVE_LIST = "invalid patch format of primitive list"
_BAD_SET_ORDER = "invalid patch format of setElementOrder list"


class _Walker:
    """One patch application: the definitions and the recursive merge functions."""

    def __init__(self, defs: Definitions) -> None:
        self.defs = defs

    def field(self, schema: Schema | None, key: str) -> tuple[Schema | None, str, str]:
        """(property schema, patch strategy without retainKeys, merge key) of `key`."""
        prop = self.defs.child(schema, key) if schema is not None else None
        info = self.defs.list_info(prop)
        strategies = [s for s in info.patch_strategy.split(",") if s and s != "retainKeys"]
        return prop, (strategies[0] if strategies else ""), info.patch_merge_key

    def item(self, prop: Schema | None) -> Schema | None:
        return self.defs.child(prop, "[]") if prop is not None else None

    # -- maps ---------------------------------------------------------------------------

    def merge_map(
        self, original: dict[str, Any], patch: dict[str, Any], schema: Schema | None
    ) -> dict[str, Any]:
        if PATCH in patch:
            directive = patch[PATCH]
            if directive == "replace":
                rest = {k: v for k, v in patch.items() if k != PATCH}
                return self.merge_map({}, rest, schema)
            if directive == "delete":
                return {}
            raise bad_patch_type(directive, patch)
        _retain_keys(original, patch)
        self.set_element_orders(original, patch, schema)
        for key, value in list(patch.items()):
            self.merge_key(original, key, value, schema)
        return original

    def merge_key(
        self, original: dict[str, Any], key: str, value: Any, schema: Schema | None
    ) -> None:
        delete_list = key.startswith(DELETE_PRIMITIVES)
        if delete_list:
            head, _, rest = key.partition("/")
            if head != DELETE_PRIMITIVES or not _:
                raise bad_request(_BAD_PRIMITIVE_LIST)
            key = rest
        if value is None:
            original.pop(key, None)
            return
        if key not in original or value_kind(original[key]) != value_kind(value):
            if not delete_list:
                original[key] = self.fresh(value, schema, key)
            return
        prop, strategy, merge_key = self.field(schema, key)
        current = original[key]
        if isinstance(current, dict):
            if strategy == "replace":
                original[key] = self.fresh(value, schema, key)
            else:
                original[key] = self.merge_map(current, value, prop)
        elif isinstance(current, list):
            if strategy == "merge":
                original[key] = self.merge_slice(current, value, merge_key, delete_list, prop)
            else:
                original[key] = _discard_nulls(value)
        else:
            original[key] = value

    def fresh(self, value: Any, schema: Schema | None, key: str) -> Any:
        """A value for a key absent from the original: directives applied, nulls dropped."""
        prop, strategy, merge_key = self.field(schema, key)
        if isinstance(value, dict) and strategy != "replace":
            return self.merge_map({}, value, prop)
        if isinstance(value, list) and strategy == "merge":
            return self.merge_slice([], value, merge_key, False, prop)
        return _discard_nulls(value)

    # -- $setElementOrder ----------------------------------------------------------------

    def set_element_orders(
        self, original: dict[str, Any], patch: dict[str, Any], schema: Schema | None
    ) -> None:
        for key in [k for k in patch if k.startswith(SET_ORDER)]:
            order = patch.pop(key)
            if not isinstance(order, list):
                raise bad_arg("[]interface {}", order)
            head, sep, name = key.partition("/")
            if head != SET_ORDER or not sep:
                raise bad_request(_BAD_SET_ORDER)
            self.ordered_list(original, patch, name, order, schema)

    def ordered_list(
        self,
        original: dict[str, Any],
        patch: dict[str, Any],
        name: str,
        order: list[Any],
        schema: Schema | None,
    ) -> None:
        found_original, found_patch = name in original, name in patch
        current, patch_list = original.get(name), patch.get(name)
        if found_original and not isinstance(current, list):
            raise bad_arg("[]interface {}", current)
        if found_patch and not isinstance(patch_list, list):
            raise bad_arg("[]interface {}", patch_list)
        prop, strategy, merge_key = self.field(schema, name)
        validate_order(patch_list or [], order, merge_key)
        if not found_original and not found_patch:
            return
        if found_original and found_patch and strategy == "merge":
            merged = self.merge_slice(current or [], patch_list or [], merge_key, False, prop)
        elif found_patch:
            merged = _discard_nulls(patch_list) if strategy != "merge" else self.merge_slice(
                [], patch_list or [], merge_key, False, prop
            )
        else:
            merged = list(current or [])
        patch.pop(name, None)
        if not merged:
            original[name] = merged
            return
        kind = element_kind([current or [], patch_list or []])
        in_order, server_only = partition(merged, order, merge_key)
        original[name] = normalize(in_order, server_only, order, current or [], merge_key, kind)

    # -- lists --------------------------------------------------------------------------

    def merge_slice(
        self,
        original: list[Any],
        patch: list[Any],
        merge_key: str,
        delete_list: bool,
        prop: Schema | None,
    ) -> list[Any]:
        if not original and not patch:
            return original
        kind = element_kind([original, patch])
        if kind != "map":
            if delete_list:
                return [v for v in original if not any(same(v, d) for d in patch)]
            merged = dedupe(original + patch)
            merge_key = ""
        else:
            if not merge_key:
                raise plain_error("cannot merge lists without merge key for type map")
            original, patch = special_elements(original, patch, merge_key)
            merged = self.merge_items(original, patch, merge_key, self.item(prop))
        in_patch, server_only = partition(merged, patch, merge_key)
        return normalize(in_patch, server_only, patch, original, merge_key, kind)

    def merge_items(
        self, original: list[Any], patch: list[Any], merge_key: str, item: Schema | None
    ) -> list[Any]:
        original = list(original)
        for entry in patch:
            if merge_key not in entry:
                raise no_merge_key(entry, merge_key)
            index = find_by_key(original, merge_key, entry[merge_key])
            if index is None:
                original.append(self.merge_map({}, entry, item))
            else:
                original[index] = self.merge_map(original[index], entry, item)
        return original


def _discard_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _discard_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_discard_nulls(v) for v in value]
    return value


def _retain_keys(original: dict[str, Any], patch: dict[str, Any]) -> None:
    if RETAIN_KEYS not in patch:
        return
    keep = patch.pop(RETAIN_KEYS)
    if not isinstance(keep, list):
        raise bad_request(_BAD_RETAIN_KEYS)
    for key, value in patch.items():
        if value is None or key.startswith((DELETE_PRIMITIVES, SET_ORDER)):
            continue
        if key not in keep:
            raise bad_request(_BAD_RETAIN_KEYS)
    for key in [k for k in original if k not in keep]:
        del original[key]


def strategic_merge_patch(
    original: dict[str, Any], patch: Any, gvk: GroupVersionKind) -> Any:
    """Apply a strategic merge patch to a copy of `original` using the kind's schema."""
    if not isinstance(patch, dict):
        kind_name = "array" if isinstance(patch, list) else "string"
        if patch is None:
            return deep_copy(original)
        raise bad_request(
            f"json: cannot unmarshal {kind_name} into Go value of type map[string]interface {{}}"
        )
    defs = definitions()
    root = defs.root(gvk)
    if root is None:
        return merge_patch(original, patch)
    return _Walker(defs).merge_map(deep_copy(original), deep_copy(patch), root)
