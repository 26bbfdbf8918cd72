"""`meta.k8s.io/v1` Table responses, what kubectl prints for `get`."""

from __future__ import annotations

from typing import Any

from portico.apiserver.resources._base import Object, ResourceType
from portico.apiserver.resources._printers import now_utc

TABLE_CONTENT_TYPE = "application/json;as=Table;v=v1;g=meta.k8s.io"


def wants_table(accept: str) -> bool:
    return "as=Table" in accept and "g=meta.k8s.io" in accept


def _partial(obj: Object) -> dict[str, Any]:
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata", {}),
    }


def _row(rt: ResourceType, obj: Object, include: str, now: Any) -> dict[str, Any]:
    row: dict[str, Any] = {"cells": rt.table.cells(obj, now)}
    if include == "Object":
        row["object"] = obj
    elif include != "None":
        row["object"] = _partial(obj)
    return row


def table(rt: ResourceType, objs: list[Object], include: str = "Metadata",
          resource_version: str = "", continue_token: str = "",
          remaining: int | None = None, headers: bool = True) -> dict[str, Any]:
    now = now_utc()
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
    out["rows"] = [_row(rt, obj, include, now) for obj in objs]
    return out
