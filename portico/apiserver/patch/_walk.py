"""Compare, merge and remove over typed values: the write half of structured-merge-diff.

`compare(old, new)` reports leaves and list/map entries that appear, disappear or
change. A container that appears or disappears whole is itself reported (that is
what puts `.` under `f:labels` or a list item), except struct-typed fields, which
Go always serializes and so never "appear". `merge(live, config)` is SMD's merge:
config wins on scalars and atomics, maps merge per key, associative lists and sets
merge per item keeping live order around the config's order. `remove` drops the
subtrees at the given paths.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from portico.apiserver.patch._common import deep_copy, same
from portico.apiserver.patch._fieldset import Path
from portico.apiserver.patch._fieldset import field as field_element
from portico.apiserver.patch._typed import (
    Shape,
    TypeInfo,
    granular_list,
    granular_map,
    item_element,
    items_by_element,
)


@dataclass
class Comparison:
    added: set[Path] = field(default_factory=set)
    removed: set[Path] = field(default_factory=set)
    modified: set[Path] = field(default_factory=set)


def _is_empty(value: Any) -> bool:
    return value is None or value == {} or value == []


def _identical(old: Any, new: Any) -> bool:
    """The same JSON, number types included (Python's `==` takes 1 for 1.0 and true)."""
    try:
        return orjson.dumps(old) == orjson.dumps(new)
    except TypeError:
        return same(old, new)


def _leaf(old: Any, new: Any, path: Path, out: Comparison) -> None:
    if old is None and new is None:
        return
    if old is None:
        out.added.add(path)
    elif new is None:
        out.removed.add(path)
    elif not same(old, new):
        out.modified.add(path)


def compare(old: Any, new: Any, info: TypeInfo, path: Path = (), out: Comparison | None = None,
            struct_field: bool = False) -> Comparison:
    """Added, removed and modified paths from `old` to `new` (None = absent)."""
    out = out if out is not None else Comparison()
    if isinstance(old, (dict, list)) and old == new and _identical(old, new):
        return out  # nothing changed below (a status write leaves spec and metadata alone)
    if _is_empty(old) and _is_empty(new):
        if path:
            _leaf(old, new, path, out)
        return out
    as_map = granular_map(info, old if old is not None else new)
    as_list = granular_list(info, old if old is not None else new)
    kinds_match = type(old) is type(new) or old is None or new is None
    if not kinds_match or not (as_map or as_list):
        if path:
            _leaf(old, new, path, out)
        return out
    if path and (old is None or new is None) and not (struct_field and info.shape == Shape.STRUCT):
        (out.added if old is None else out.removed).add(path)
    if as_map:
        _compare_map(old or {}, new or {}, info, path, out)
    else:
        _compare_list(old or [], new or [], info, path, out)
    return out


def _compare_map(old: dict[str, Any], new: dict[str, Any], info: TypeInfo, path: Path,
                 out: Comparison) -> None:
    for key in list(old) + [k for k in new if k not in old]:
        compare(old.get(key), new.get(key), info.child(key), path + (field_element(key),), out,
                struct_field=info.is_field(key))


def _compare_list(old: list[Any], new: list[Any], info: TypeInfo, path: Path,
                  out: Comparison) -> None:
    before, after = items_by_element(info, old), items_by_element(info, new)
    item = info.item()
    for element in list(before) + [e for e in after if e not in before]:
        compare(before.get(element), after.get(element), item, path + (element,), out)
        if element not in before or element not in after:
            (out.added if element not in before else out.removed).add(path + (element,))


def merge(live: Any, config: Any, info: TypeInfo) -> Any:
    """The applied configuration merged into the live value."""
    if config is None:
        return deep_copy(live)
    if live is None or type(live) is not type(config):
        return deep_copy(config)
    if granular_map(info, live):
        out = {k: deep_copy(v) for k, v in live.items()}
        for key, value in config.items():
            merged = merge(live.get(key), value, info.child(key))
            if merged is None:
                out.pop(key, None)
            else:
                out[key] = merged
        return out
    if granular_list(info, live):
        return _merge_list(live, config, info)
    return deep_copy(config)


def _merge_list(live: list[Any], config: list[Any], info: TypeInfo) -> list[Any]:
    """Port of SMD's list merge order: shared items follow the config's order."""
    item = info.item()
    lhs = [item_element(info, v, i) for i, v in enumerate(live)]
    rhs = [item_element(info, v, i) for i, v in enumerate(config)]
    left, right = items_by_element(info, live), items_by_element(info, config)
    shared = [pe for pe in rhs if pe in left]
    next_shared = shared.pop(0) if shared else None
    done: set[str] = set()
    out: list[Any] = []
    li = ri = 0
    while li < len(lhs) or ri < len(rhs):
        if li < len(lhs) and ri < len(rhs):
            pe = lhs[li]
            if pe == rhs[ri]:
                done.add(pe)
                out.append(merge(left[pe], right[pe], item))
                li, ri = li + 1, ri + 1
                next_shared = shared.pop(0) if shared else None
                continue
            if pe in right and next_shared is not None and next_shared != pe:
                li += 1
                continue
        if li < len(lhs):
            pe = lhs[li]
            if pe not in right:
                out.append(deep_copy(live[li]))
                li += 1
                continue
            if pe in done:
                li += 1
                continue
        if ri < len(rhs):
            pe = rhs[ri]
            if pe not in done:
                done.add(pe)
                out.append(merge(left.get(pe), right[pe], item))
            ri += 1
            if next_shared is not None and next_shared == pe:
                next_shared = shared.pop(0) if shared else None
    return out


def remove(value: Any, info: TypeInfo, paths: set[Path], path: Path = ()) -> Any:
    """A copy of `value` without the subtrees at `paths`."""
    prefixes = {p[:n] for p in paths for n in range(1, len(p))}
    return _remove(value, info, paths, prefixes, path)


def _remove(value: Any, info: TypeInfo, paths: set[Path], prefixes: set[Path], path: Path) -> Any:
    if granular_map(info, value):
        out: dict[str, Any] = {}
        for key, child in value.items():
            child_path = path + (field_element(key),)
            if child_path in paths:
                continue
            if child_path in prefixes:
                child = _remove(child, info.child(key), paths, prefixes, child_path)
            out[key] = child
        return out
    if granular_list(info, value):
        item = info.item()
        kept: list[Any] = []
        for index, child in enumerate(value):
            child_path = path + (item_element(info, child, index),)
            if child_path in paths:
                continue
            if child_path in prefixes:
                child = _remove(child, item, paths, prefixes, child_path)
            kept.append(child)
        return kept
    return value
