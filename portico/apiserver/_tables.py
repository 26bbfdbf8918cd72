"""`meta.k8s.io/v1` Table responses, what kubectl prints for `get`.

A row's cells are a function of the object and of "now" (Age, Last Seen, the
restart "(5m ago)"). Listing 10,000 objects recomputes little: for each cached
object version (`memos` from the reader's cache) the row is computed once as a
`_Template` (from the second time it is listed on: a version listed once costs
what it did without a cache), and a request only fills in the Age cells.

Which cells depend on "now" is found by probing, not declared: the kind's cell
function runs at two instants ten thousand years apart. A cell equal at both is
constant for this version (a duration of a real timestamp always differs: one
probe sees it as `<invalid>`, the other as thousands of years). If every cell
that moves is in an Age column and equals `age(obj, t)` at those probes and 7 s
after creation, a request copies the constants and fills those positions with
`since(creationTimestamp, now)`; otherwise (pods' restarts, events' Last Seen)
the row is computed in full, as without a cache. Rows of objects not from the
cache are always computed in full.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from portico.apiserver.resources._base import AGE_COLUMN, Object, ResourceType, Table, nested
from portico.apiserver.resources._printers import age, now_utc, parse_time, since

TABLE_CONTENT_TYPE = "application/json;as=Table;v=v1;g=meta.k8s.io"

_EARLY = datetime.datetime(2, 1, 1, tzinfo=datetime.UTC)
_LATE = datetime.datetime(9998, 1, 1, tzinfo=datetime.UTC)
_MEMO_KEY = "table-row"
_SEEN_KEY = "table-row-seen"


@dataclass(frozen=True, slots=True)
class _Template:
    """The cells of one object version, and which of them are its Age."""

    table: Table
    cells: tuple[Any, ...]  # constant cells; Age positions hold a placeholder
    age_positions: tuple[int, ...]
    full: bool  # other cells depend on now: compute the whole row per request


def wants_table(accept: str) -> bool:
    return "as=Table" in accept and "g=meta.k8s.io" in accept


def _probes(obj: Object) -> tuple[datetime.datetime, ...]:
    """Far past, far future, and 7 s after creation (second resolution tells timestamps
    apart; the far probes only say "moves" or "constant")."""
    try:
        created = parse_time(nested(obj, "metadata", "creationTimestamp"))
        near = () if created is None else (created + datetime.timedelta(seconds=7),)
    except (ValueError, TypeError, AttributeError, OverflowError):
        near = ()
    return (_EARLY, _LATE, *near)


def _template(rt: ResourceType, obj: Object) -> _Template:
    full = _Template(rt.table, (), (), True)
    probes = _probes(obj)
    try:
        samples = [rt.table.cells(obj, when) for when in probes]
        ages = [age(obj, when) for when in probes]
    except (ValueError, OverflowError, TypeError):
        return full
    early, late = samples[0], samples[1]
    if any(len(cells) != len(rt.table.columns) for cells in samples):
        return full
    moving = tuple(i for i, (a, b) in enumerate(zip(early, late, strict=True)) if a != b)
    for i in moving:
        if rt.table.columns[i].name != AGE_COLUMN.name:
            return full
        if any(cells[i] != text for cells, text in zip(samples, ages, strict=True)):
            return full
    return _Template(rt.table, tuple(early), moving, False)


class _Rows:
    """The cells of one request's rows: one `now`, Age text memoized per timestamp."""

    def __init__(self, rt: ResourceType) -> None:
        self.rt = rt
        self.now = now_utc()
        self._ages: dict[Any, str] = {}

    def _age(self, obj: Object) -> str:
        created = nested(obj, "metadata", "creationTimestamp")
        text = self._ages.get(created)
        if text is None:
            text = since(created, self.now)
            self._ages[created] = text
        return text

    def cells(self, obj: Object, memo: dict[str, Any] | None) -> list[Any]:
        if memo is None:
            return self.rt.table.cells(obj, self.now)
        template = memo.get(_MEMO_KEY)
        if template is None or template.table is not self.rt.table:
            if memo.get(_SEEN_KEY) is not self.rt.table:
                memo[_SEEN_KEY] = self.rt.table  # probe the second time: most are listed once
                return self.rt.table.cells(obj, self.now)
            template = _template(self.rt, obj)
            memo[_MEMO_KEY] = template
        if template.full:
            return self.rt.table.cells(obj, self.now)
        cells = list(template.cells)
        if template.age_positions:
            text = self._age(obj)
            for i in template.age_positions:
                cells[i] = text
        return cells


def _partial(obj: Object) -> dict[str, Any]:
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata", {}),
    }


def table(rt: ResourceType, objs: list[Object], include: str = "Metadata",
          resource_version: str = "", continue_token: str = "",
          remaining: int | None = None, headers: bool = True,
          memos: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The Table of `objs`; `memos[i]` (from a cached list) lets rows be reused.

    The result shares `objs` (and cached cells): serialize it, never mutate it."""
    rows_of = _Rows(rt)
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
    rows = []
    for i, obj in enumerate(objs):
        row: dict[str, Any] = {"cells": rows_of.cells(obj, memos[i] if memos else None)}
        if include == "Object":
            row["object"] = obj
        elif include != "None":
            row["object"] = _partial(obj)
        rows.append(row)
    out["rows"] = rows
    return out
