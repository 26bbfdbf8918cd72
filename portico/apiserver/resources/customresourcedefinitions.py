"""CustomResourceDefinitions (apiextensions.k8s.io/v1), as apiextensions-apiserver's strategy.

Defaults (`v1/defaults.go`): `names.singular` is the lower-cased kind,
`names.listKind` the kind plus `List`, `conversion.strategy` `None`. Create
clears the status and records the storage version in `status.storedVersions`;
updates keep the status (it is written through `/status` by the CRD controller,
`portico.apiserver.apiextensions`) and add a new storage version to
`storedVersions`, which only a `/status` write shrinks. The first DELETE adds
the `customresourcecleanup.apiextensions.k8s.io` finalizer, which the
controller removes once every custom resource of the CRD is gone.
"""

from __future__ import annotations

import datetime
from typing import Any

from portico.apiserver.apiextensions._validation import (
    validate_crd,
    validate_crd_update,
    validate_stored_versions,
)
from portico.apiserver.errors import FieldError, invalid, required
from portico.apiserver.resources import _base
from portico.apiserver.resources._printers import name

CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"


def storage_version(obj: _base.Object) -> str | None:
    for version in (obj.get("spec") or {}).get("versions") or []:
        if isinstance(version, dict) and version.get("storage"):
            return str(version.get("name", ""))
    return None


class CrdStrategy(_base.Strategy):
    def default(self, obj: _base.Object) -> None:
        spec = obj.setdefault("spec", {})
        names = spec.setdefault("names", {})
        kind = names.get("kind")
        if kind:
            names.setdefault("singular", kind.lower())
            names.setdefault("listKind", kind + "List")
        spec.setdefault("conversion", {"strategy": "None"})

    def prepare_for_create(self, obj: _base.Object) -> None:
        stored = storage_version(obj)
        obj["status"] = {"storedVersions": [stored] if stored else []}

    def prepare_for_update(self, new: _base.Object, old: _base.Object) -> None:
        status = new.setdefault("status", {})
        stored = list(status.get("storedVersions") or [])
        current = storage_version(new)
        if current and current not in stored:
            stored.append(current)
        status["storedVersions"] = stored

    def validate(self, obj: _base.Object) -> list[FieldError]:
        return validate_crd(obj)

    def validate_update(self, new: _base.Object, old: _base.Object) -> list[FieldError]:
        return validate_crd_update(new, old)

    def validate_status_update(self, new: _base.Object, old: _base.Object) -> list[FieldError]:
        stored = (new.get("status") or {}).get("storedVersions") or []
        errs = validate_stored_versions(new)
        current = storage_version(new)
        if not stored:
            errs.append(required("status.storedVersions", "must have at least one stored "
                                                          "version"))
        elif current and current not in stored:
            errs.append(invalid("status.storedVersions", stored,
                                f"must have the storage version {current}"))
        return errs

    def finalizers_on_delete(self, obj: _base.Object) -> tuple[str, ...]:
        return (CLEANUP_FINALIZER,)


def _cells(obj: _base.Object, now: datetime.datetime) -> list[Any]:
    return [name(obj), obj["metadata"].get("creationTimestamp", "")]


CUSTOMRESOURCEDEFINITIONS = _base.ResourceType(
    group="apiextensions.k8s.io", version="v1", kind="CustomResourceDefinition",
    plural="customresourcedefinitions", singular="customresourcedefinition", namespaced=False,
    strategy=CrdStrategy(),
    table=_base.Table((_base.NAME_COLUMN, _base.Column("Created At", type="date", description=(
        "CreationTimestamp is a timestamp representing the server time when this object was "
        "created. It is not guaranteed to be set in happens-before order across separate "
        "operations. Clients may not set this value. It is represented in RFC3339 form and is "
        "in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: "
        "https://git.k8s.io/community/contributors/devel/sig-architecture/"
        "api-conventions.md#metadata"))), _cells),
    short_names=("crd", "crds"), categories=("api-extensions",),
    subresources=(_base.Subresource("status"),),
)
