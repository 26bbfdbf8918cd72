"""`meta.k8s.io/v1` Table responses, what kubectl prints for `get`.

A row's cells are a function of the object and of "now" (Age, Last Seen, the
restart "(5m ago)"). Listing 10,000 objects recomputes little: the first list of
a version keeps its cells (and its PartialObjectMetadata as JSON) in the
version's memo (`MemoCache`); the second turns them into a `_Template`; later
requests only fill in the Age cells. Waiting for the second list keeps a version
that is listed once (churning objects) as cheap as without a cache.

Which cells depend on "now" is found by probing, not declared: the kind's cell
function runs once more, at an instant thousands of years ahead. A cell equal
then and at the first list is constant for this version (any duration of a real timestamp
reads differently: thousands of years, against "<invalid>" or less). If every
cell that moves is in an Age column and equals `age(obj, t)` at both instants,
a request copies the constants and fills those positions with
`since(creationTimestamp, now)`; otherwise (pods' restarts, events' Last Seen)
the row is computed in full, as without a cache. Rows of objects that do not
come from a list (get, watch) are always computed in full.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from portico.apiserver.registry._objects import Stored
from portico.apiserver.resources._base import AGE_COLUMN, Object, ResourceType, Table, nested
from portico.apiserver.resources._printers import now_utc, since

TABLE_CONTENT_TYPE = "application/json;as=Table;v=v1;g=meta.k8s.io"

_LATE = datetime.datetime(9998, 1, 1, tzinfo=datetime.UTC)
_MEMO_KEY = "table-row"
_SEEN_KEY = "table-row-seen"
_PARTIAL_KEY = "table-partial-object"
_JSON_KEY = "json"


@dataclass(frozen=True, slots=True)
class _Template:
    """The cells of one object version, and which of them are its Age."""

    table: Table
    cells: tuple[Any, ...]  # constant cells; Age positions hold a placeholder
    age_positions: tuple[int, ...]
    full: bool  # other cells depend on now: compute the whole row per request
    created: Any = None  # metadata.creationTimestamp, what Age counts from


def wants_table(accept: str) -> bool:
    return "as=Table" in accept and "g=meta.k8s.io" in accept


def _template(rt: ResourceType, obj: Object, cells: list[Any],
              ages: Callable[[str | None], tuple[str, str]]) -> _Template:
    """The template of `obj`'s row, given its `cells` at some instant and
    `ages(creationTimestamp)`: its Age then and at the probe (see the module docstring)."""
    full = _Template(rt.table, (), (), True)
    created = nested(obj, "metadata", "creationTimestamp")
    if not isinstance(created, str | None):
        return full
    try:
        late = rt.table.cells(obj, _LATE)
        age_texts = ages(created)
    except (ValueError, OverflowError, TypeError):
        return full
    if len(cells) != len(late):
        return full
    moving = tuple(i for i, (a, b) in enumerate(zip(cells, late, strict=True)) if a != b)
    for i in moving:
        if rt.table.columns[i].name != AGE_COLUMN.name or (cells[i], late[i]) != age_texts:
            return full
    return _Template(rt.table, tuple(cells), moving, False, created)


class _Rows:
    """The rows of one request: one `now`, Age text memoized per creationTimestamp."""

    def __init__(self, rt: ResourceType, include: str) -> None:
        self.rt = rt
        self.include = include
        self.now = now_utc()
        self._ages: dict[str | None, str] = {}

    def _age(self, created: str | None) -> str:
        """`age(obj, now)` of an object with this creationTimestamp (`printers.age`)."""
        text = self._ages.get(created)
        if text is None:
            text = since(created, self.now)
            self._ages[created] = text
        return text

    def row(self, obj: Object) -> dict[str, Any]:
        row: dict[str, Any] = {"cells": self.rt.table.cells(obj, self.now)}
        if self.include == "Object":
            row["object"] = obj
        elif self.include != "None":
            row["object"] = _partial(obj)
        return row

    def stored_row(self, item: Stored) -> dict[str, Any]:
        """The row of a listed object, from its memo where possible (module docstring)."""
        memo = item.memo
        obj: Object | None = None  # decoded at most once per row, only when needed
        template = memo.get(_MEMO_KEY)
        if template is None or template.table is not self.rt.table or template.full:
            obj = item.object()
            cells = self._cells(obj, memo, template)
        else:
            cells = self._filled(template)
        row: dict[str, Any] = {"cells": cells}
        if self.include == "Object":
            row["object"] = memo_json(self.rt, item, obj)
        elif self.include != "None":
            partial = memo.get(_PARTIAL_KEY)
            if partial is None:
                obj = obj if obj is not None else item.object()
                partial = orjson.Fragment(orjson.dumps(_partial(obj)))
                memo[_PARTIAL_KEY] = partial
            row["object"] = partial
        return row

    def _cells(self, obj: Object, memo: dict[str, Any], template: _Template | None,
               ) -> list[Any]:
        """Cells computed in full; the first two lists of a version build its template."""
        table_of = self.rt.table
        if template is not None and template.table is table_of:  # a full template
            return table_of.cells(obj, self.now)
        seen: tuple[Table, datetime.datetime, tuple[Any, ...]] | None = memo.get(_SEEN_KEY)
        if seen is None or seen[0] is not table_of:
            # first list of this version: remember its cells; a version listed once
            # (churning objects) costs no more than without a cache
            cells = table_of.cells(obj, self.now)
            memo[_SEEN_KEY] = (table_of, self.now, tuple(cells))
            return cells
        _, then, cells_then = seen
        template = _template(self.rt, obj, list(cells_then),
                             lambda created: (since(created, then), since(created, _LATE)))
        memo[_MEMO_KEY] = template
        del memo[_SEEN_KEY]
        if template.full:
            return table_of.cells(obj, self.now)
        return self._filled(template)

    def _filled(self, template: _Template) -> list[Any]:
        cells = list(template.cells)
        if template.age_positions:
            text = self._age(template.created)
            for i in template.age_positions:
                cells[i] = text
        return cells


def memo_json(rt: ResourceType, item: Stored, obj: Object | None = None) -> orjson.Fragment:
    """The listed object as JSON (with apiVersion and kind), serialized once per version;
    `obj` is its decode if the caller has one."""
    fragment = item.memo.get(_JSON_KEY)
    if fragment is None:
        obj = obj if obj is not None else item.object()
        if "apiVersion" not in obj or "kind" not in obj:
            obj = {"apiVersion": rt.api_version, "kind": rt.kind, **obj}
        fragment = orjson.Fragment(orjson.dumps(obj))
        item.memo[_JSON_KEY] = fragment
    return fragment


def _partial(obj: Object) -> dict[str, Any]:
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata", {}),
    }


def _envelope(rt: ResourceType, resource_version: str, continue_token: str,
              remaining: int | None, headers: bool) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    if resource_version:
        meta["resourceVersion"] = resource_version
    if continue_token:
        meta["continue"] = continue_token
    if remaining is not None:
        meta["remainingItemCount"] = remaining
    out: dict[str, Any] = {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta}
    if headers:
        out["columnDefinitions"] = [c.definition() for c in rt.table.columns]
    else:
        out["columnDefinitions"] = None
    return out


def table(rt: ResourceType, objs: list[Object], include: str = "Metadata",
          resource_version: str = "", continue_token: str = "",
          remaining: int | None = None, headers: bool = True) -> dict[str, Any]:
    """The Table of `objs` (it shares them: serialize it, don't change it)."""
    rows = _Rows(rt, include)
    out = _envelope(rt, resource_version, continue_token, remaining, headers)
    out["rows"] = [rows.row(obj) for obj in objs]
    return out


def list_table(rt: ResourceType, items: list[Stored], include: str = "Metadata",
               resource_version: str = "", continue_token: str = "",
               remaining: int | None = None) -> dict[str, Any]:
    """The Table of a list's items, reusing each version's memoized row parts."""
    rows = _Rows(rt, include)
    out = _envelope(rt, resource_version, continue_token, remaining, True)
    out["rows"] = [rows.stored_row(item) for item in items]
    return out
