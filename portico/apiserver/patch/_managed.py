"""`metadata.managedFields`: decoding, encoding and the Update half of the field manager.

Managers are keyed as kube's `BuildManagerIdentifier` does: manager name,
operation, subresource, and for `Update` also the apiVersion (an applier keeps
one entry across versions). Server-owned metadata (`name`, `uid`,
`resourceVersion`, ...) is stripped from every set, and the fields the endpoint
resets (`status` on the main resource, `spec` on `/status`) are never owned.

`update_managed_fields` is the `Update` path (create, update, non-apply patch):
the writer takes every field it added or changed, those fields leave the other
managers' sets, removed fields leave every set, and empty entries are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from portico.apiserver.patch._common import deep_copy
from portico.apiserver.patch._fieldset import EMPTY, FieldSet, Path, decode, encode
from portico.apiserver.patch._fieldset import without_prefixes as _exclude
from portico.apiserver.patch._typed import KeyError_, TypeInfo, root_info
from portico.apiserver.patch._walk import Comparison, compare
from portico.apiserver.schema import Definitions, definitions
from portico.model.kinds import GroupVersionKind

APPLY = "Apply"
UPDATE = "Update"
BEFORE_FIRST_APPLY = "before-first-apply"

STRIPPED: FieldSet = frozenset(
    [("f:apiVersion",), ("f:kind",), ("f:metadata",)]
    + [
        ("f:metadata", "f:" + name)
        for name in (
            "name", "namespace", "creationTimestamp", "selfLink", "uid", "clusterName",
            "generation", "managedFields", "resourceVersion",
        )
    ]
)
RESET: dict[str, FieldSet] = {
    "": frozenset([("f:status",)]),
    "status": frozenset([("f:spec",)]),
}


@dataclass(frozen=True)
class ManagerKey:
    manager: str
    operation: str
    api_version: str  # "" for appliers: they keep one entry whatever version they use
    subresource: str = ""


@dataclass
class Managed:
    """One manager's entry: its field set, the version it used and when it last wrote."""

    fields: FieldSet
    api_version: str
    time: str | None


Managers = dict[ManagerKey, Managed]


def decode_managers(obj: dict[str, Any] | None) -> Managers:
    entries = ((obj or {}).get("metadata") or {}).get("managedFields") or []
    out: Managers = {}
    for entry in entries:
        if not isinstance(entry, dict) or not entry.get("manager") and not entry.get("fieldsV1"):
            continue
        operation = entry.get("operation", "")
        version = entry.get("apiVersion", "")
        key = ManagerKey(
            entry.get("manager", ""), operation, "" if operation == APPLY else version,
            entry.get("subresource", ""),
        )
        out[key] = Managed(decode(entry.get("fieldsV1") or {}), version, entry.get("time"))
    return out


def encode_managers(managers: Managers) -> list[dict[str, Any]]:
    """managedFields entries, sorted as kube sorts them (operation, time, manager, ...)."""
    entries: list[dict[str, Any]] = []
    for key, managed in managers.items():
        if not managed.fields:
            continue
        entry: dict[str, Any] = {
            "manager": key.manager,
            "operation": key.operation,
            "apiVersion": managed.api_version,
        }
        if managed.time is not None:
            entry["time"] = managed.time
        entry["fieldsType"] = "FieldsV1"
        entry["fieldsV1"] = encode(managed.fields)
        if key.subresource:
            entry["subresource"] = key.subresource
        entries.append(entry)
    entries.sort(
        key=lambda e: (
            e["operation"], e.get("time") or "", e["manager"], e["apiVersion"],
            e.get("subresource", ""),
        )
    )
    return entries


def strip(paths: set[Path] | FieldSet, subresource: str) -> FieldSet:
    """Remove server-owned metadata and the endpoint's reset fields from a set."""
    return _exclude(frozenset(paths) - STRIPPED, RESET.get(subresource, EMPTY))


def without_managed_fields(obj: dict[str, Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = deep_copy(obj or {})
    metadata = out.get("metadata")
    if isinstance(metadata, dict):
        metadata.pop("managedFields", None)
    return out


def diff(old: dict[str, Any], new: dict[str, Any], info: TypeInfo, subresource: str) -> Comparison:
    """`Compare` of two objects, filtered as the endpoint filters it."""
    try:
        found = compare(old, new, info)
    except KeyError_:
        return Comparison()
    return Comparison(
        added=set(strip(found.added, subresource)),
        removed=set(strip(found.removed, subresource)),
        modified=set(strip(found.modified, subresource)),
    )


def take_from_others(
    managers: Managers, writer: ManagerKey, found: Comparison
) -> dict[ManagerKey, FieldSet]:
    """Other managers' fields this write changes (the conflicts); removed fields leave all."""
    changed = found.added | found.modified
    conflicts: dict[ManagerKey, FieldSet] = {}
    for key, managed in managers.items():
        if key == writer:
            continue
        overlap = managed.fields & changed
        if overlap:
            conflicts[key] = frozenset(overlap)
    return conflicts


def settle(managers: Managers, writer: ManagerKey, found: Comparison,
           conflicts: dict[ManagerKey, FieldSet]) -> None:
    for key, managed in list(managers.items()):
        if key == writer:
            continue
        managed.fields = managed.fields - conflicts.get(key, EMPTY) - found.removed
        if not managed.fields:
            del managers[key]


def record_update(
    managers: Managers, old: dict[str, Any], new: dict[str, Any], writer: ManagerKey,
    version: str, info: TypeInfo, now: str,
) -> None:
    """SMD `Updater.Update` plus kube's `managedFieldsUpdater`: the writer takes what changed."""
    found = diff(old, new, info, writer.subresource)
    settle(managers, writer, found, take_from_others(managers, writer, found))
    taken = frozenset(found.added | found.modified)
    previous = managers.get(writer)
    if previous is not None:
        previous.fields = previous.fields - found.removed
    if taken:
        kept = previous.fields if previous is not None else EMPTY
        managers[writer] = Managed(kept | taken, version, now)
    elif previous is not None and not previous.fields:
        del managers[writer]


def _is_reset(obj: dict[str, Any]) -> bool:
    entries = (obj.get("metadata") or {}).get("managedFields")
    return isinstance(entries, list) and len(entries) == 1 and entries[0] == {}


def update_managed_fields(
    old: dict[str, Any] | None, new: dict[str, Any], manager: str, operation: str,
    gvk: GroupVersionKind, now: str, subresource: str = "",
    defs: Definitions | None = None,
) -> dict[str, Any]:
    """Record in `new`'s managedFields the fields `manager` set or changed (a non-apply write).

    The base entries come from `new` when the client sent some (a get-modify-put),
    else from `old`; `managedFields: [{}]` clears them.
    """
    out: dict[str, Any] = deep_copy(new)
    metadata = out.setdefault("metadata", {})
    if _is_reset(new):
        metadata.pop("managedFields", None)
        return out
    base = new if decode_managers(new) and not subresource else old
    managers = decode_managers(base)
    info = root_info(defs or definitions(), gvk)
    gv = gvk.api_version
    writer = ManagerKey(manager, operation or UPDATE, gv, subresource)
    record_update(
        managers, without_managed_fields(old), without_managed_fields(new), writer, gv, info, now
    )
    entries = encode_managers(managers)
    if entries:
        metadata["managedFields"] = entries
    else:
        metadata.pop("managedFields", None)
    return out
