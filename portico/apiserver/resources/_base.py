"""What the generic store needs to know about one kind, as kube-apiserver's registry does.

A `ResourceType` names the kind (group, version, plural, scope, short names) and
carries a `Strategy` (defaults, validation, allocation) and table columns. The
generic store (`portico.apiserver.registry`) calls the hooks in a fixed order:

    create: default -> prepare_for_create -> validate -> allocate (inside the write txn)
    update: default -> prepare_for_update -> validate_update -> allocate (inside the write txn)
    delete: release (inside the delete txn)

Objects are plain JSON dictionaries (`Object`), exactly as they travel over the wire.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from portico.apiserver.errors import FieldError
from portico.model.kinds import GroupVersionKind

Object = dict[str, Any]


class WriteContext(Protocol):
    """The open store transaction a write runs in, for allocations that must commit with it."""

    def get(self, key: str) -> bytes | None: ...
    def put(self, key: str, value: bytes) -> None: ...
    def delete(self, key: str) -> None: ...
    def keys(self, prefix: str) -> list[str]: ...


class Strategy:
    """Per-kind hooks; the base class is the behaviour of a kind with no special rules."""

    # how metadata.name is validated: "subdomain" (most kinds), "label" or "dns1035"
    name_validation: str = "subdomain"

    def default(self, obj: Object) -> None:
        """Apply the scheme defaults (run on every create, update and patch result)."""

    def prepare_for_create(self, obj: Object) -> None:
        """Clear or set fields the server owns before a create (e.g. status)."""

    def prepare_for_update(self, new: Object, old: Object) -> None:
        """Carry over fields the server owns before an update (e.g. status)."""

    def validate(self, obj: Object) -> list[FieldError]:
        return []

    def validate_update(self, new: Object, old: Object) -> list[FieldError]:
        return self.validate(new)

    def validate_status_update(self, new: Object, old: Object) -> list[FieldError]:
        """Checks for writes to the `status` subresource."""
        return []

    def allocate(self, ctx: WriteContext, new: Object, old: Object | None) -> None:
        """Reserve addresses and ports inside the write's transaction; raise `StatusError`."""

    def release(self, ctx: WriteContext, old: Object) -> None:
        """Give back what `allocate` reserved, inside the delete's transaction."""

    def warnings(self, obj: Object) -> list[str]:
        """Warnings about `obj` found by its validation (the `Warning` response header)."""
        return []

    def unknown_fields(self, obj: Object, mode: str,
                       duplicates: tuple[str, ...] = ()) -> list[str] | None:
        """Kinds with their own schema (custom resources) prune and report unknown fields
        (and the body's `duplicates`) here (warnings, or a 400 for Strict); None: the
        built-in decoder's check."""
        return None

    def finalizers_on_delete(self, obj: Object) -> tuple[str, ...]:
        """Finalizers the first DELETE adds (CRDs: the custom-resource cleanup)."""
        return ()

    def read(self, stored: Object) -> Object:
        """A stored object as this kind serves it (custom resources: defaulted, converted)."""
        return stored

    def to_storage(self, served: Object) -> Object:
        """A served object in the stored version, the inverse of `read` (kinds served
        under several versions convert here; the writer only sees stored objects)."""
        return served


@dataclass(frozen=True)
class Column:
    """A `TableColumnDefinition`; priority 1 columns show only with `-o wide`."""

    name: str
    type: str = "string"
    format: str = ""
    description: str = ""
    priority: int = 0

    def definition(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        }


NAME_COLUMN = Column("Name", format="name", description="Name must be unique within a namespace.")
AGE_COLUMN = Column(
    "Age",
    description="CreationTimestamp is a timestamp representing the server time when this object was created.",  # noqa: E501
)

Cells = Callable[[Object, datetime.datetime], list[Any]]


@dataclass(frozen=True)
class Table:
    """Columns and a function from (object, now) to that row's cells, in column order."""

    columns: tuple[Column, ...]
    cells: Cells


@dataclass(frozen=True)
class Subresource:
    name: str  # "status", "scale", "log", ...
    kind: str = ""  # response kind when it differs from the parent, e.g. Scale
    group: str = ""
    version: str = ""
    verbs: tuple[str, ...] = ("get", "patch", "update")


@dataclass(frozen=True)
class ResourceType:
    group: str
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool
    strategy: Strategy
    table: Table
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[Subresource, ...] = ()
    verbs: tuple[str, ...] = (
        "create", "delete", "deletecollection", "get", "list", "patch", "update", "watch",
    )
    # extra field selectors beyond metadata.name/metadata.namespace: path -> getter
    field_selectors: dict[str, Callable[[Object], str]] = field(default_factory=dict)
    has_status: bool = True
    # spec changes bump metadata.generation (kinds with a spec)
    generation: bool = True
    # custom resources: the `apiextensions.CustomInfo` of their CRD version (None: built-in)
    custom: Any = None
    # a built-in version served from objects stored in another ("": this one)
    storage_version: str = ""

    @property
    def api_version(self) -> str:
        return self.gvk.api_version

    @property
    def gvk(self) -> GroupVersionKind:
        return GroupVersionKind(self.group, self.version, self.kind)

    @property
    def group_version(self) -> str:
        return self.api_version

    @property
    def converted(self) -> bool:
        """Whether stored objects are served through `strategy.read` (not as stored)."""
        return self.custom is not None or bool(self.storage_version)

    def subresource(self, name: str) -> Subresource | None:
        for sub in self.subresources:
            if sub.name == name:
                return sub
        return None


def nested(obj: Object, *path: str, default: Any = None) -> Any:
    """`obj[path[0]][path[1]]...`, or `default` where a step is missing."""
    cur: Any = obj
    for step in path:
        if not isinstance(cur, dict) or step not in cur:
            return default
        cur = cur[step]
    return cur


def field_selector_fn(*path: str) -> Callable[[Object], str]:
    def get(obj: Object) -> str:
        value = nested(obj, *path, default="")
        return "" if value is None else str(value)

    return get


__all__: Sequence[str] = (
    "AGE_COLUMN", "NAME_COLUMN", "Column", "Object", "ResourceType", "Strategy",
    "Subresource", "Table", "WriteContext", "field_selector_fn", "nested",
)
