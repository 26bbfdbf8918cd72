"""PersistentVolumeClaims (core/v1): validation, the update rules, table.

Create: access modes, `spec.resources[storage]` (required, greater than zero),
`volumeMode` (default Filesystem); status `phase: Pending`.  Update, as
`ValidatePersistentVolumeClaimUpdate`: the spec is immutable except
`resources.requests` (and `volumeAttributesClassName`) of a bound claim; the PV
controller's binding fields (`volumeName` when unset, `storageClassName` when unset)
may be filled in once; a smaller storage request is forbidden.  Admission, inside the
write: a new claim without `storageClassName` gets the default StorageClass
(DefaultStorageClass), and a larger request needs a class with
`allowVolumeExpansion` (PersistentVolumeClaimResize: 403 otherwise).
"""

from __future__ import annotations

import copy
import datetime
import difflib
import json
from typing import Any

from portico.apiserver.errors import FieldError, StatusError, forbidden
from portico.apiserver.resources import _base
from portico.apiserver.resources._admission import newest_default, stored
from portico.apiserver.resources._printers import age, name
from portico.apiserver.resources._volume_claims import (
    access_modes_text,
    validate_access_modes,
    validate_storage,
    validate_volume_mode,
)
from portico.apiserver.resources.storageclasses import DEFAULT_CLASS_ANNOTATION
from portico.model.quantity import parse_quantity

IMMUTABLE_SPEC = ("spec is immutable after creation except resources.requests and "
                  "volumeAttributesClassName for bound claims")
SMALLER = "field can not be less than previous value"
RESIZE_FORBIDDEN = ("only dynamically provisioned pvc can be resized and the storageclass that "
                    "provisions the pvc must support resize")
CLASSES_PREFIX = "/registry/storage.k8s.io/storageclasses/"


def _storage(obj: _base.Object) -> Any:
    return _base.nested(obj, "spec", "resources", "requests", "storage")


def _spec_diff(old: _base.Object, new: _base.Object) -> str:
    lines = difflib.unified_diff(json.dumps(old, indent=1, sort_keys=True).splitlines(),
                                 json.dumps(new, indent=1, sort_keys=True).splitlines(),
                                 lineterm="", n=1)
    return "\n".join(list(lines)[2:])


def _resize_forbidden(ctx: _base.WriteContext, new: _base.Object) -> bool:
    """The PersistentVolumeClaimResize admission plugin: only a claim of a class that
    allows expansion may grow."""
    name = _base.nested(new, "spec", "storageClassName")
    storage_class = stored(ctx, CLASSES_PREFIX + str(name)) if name else None
    return not (storage_class or {}).get("allowVolumeExpansion")


class PersistentVolumeClaimStrategy(_base.Strategy):
    def allocate(self, ctx: _base.WriteContext, new: _base.Object,
                 old: _base.Object | None) -> None:
        """Admission: DefaultStorageClass on create, PersistentVolumeClaimResize on update."""
        spec = new.setdefault("spec", {})
        if old is None:
            if spec.get("storageClassName") is None:
                chosen = newest_default(ctx, CLASSES_PREFIX, DEFAULT_CLASS_ANNOTATION)
                if chosen:
                    spec["storageClassName"] = chosen
            return
        try:
            grows = parse_quantity(_storage(new)) > parse_quantity(_storage(old))
        except (TypeError, ValueError):
            grows = False
        if grows and _resize_forbidden(ctx, new):
            name = _base.nested(new, "metadata", "name")
            raise StatusError(403, "Forbidden", f'persistentvolumeclaims "{name}" is forbidden: '
                              f"{RESIZE_FORBIDDEN}", {"name": name,
                                                      "kind": "persistentvolumeclaims"})

    def default(self, obj: _base.Object) -> None:
        obj.setdefault("spec", {}).setdefault("volumeMode", "Filesystem")

    def prepare_for_create(self, obj: _base.Object) -> None:
        obj["status"] = {"phase": "Pending"}

    def validate(self, obj: _base.Object) -> list[FieldError]:
        spec = obj.get("spec") or {}
        errs = validate_access_modes(spec.get("accessModes"), "spec.accessModes")
        errs += validate_storage(_storage(obj), "spec.resources[storage]")
        errs += validate_volume_mode(spec.get("volumeMode"), "spec.volumeMode")
        return errs

    def validate_update(self, new: _base.Object, old: _base.Object) -> list[FieldError]:
        errs = self.validate(new)
        old_spec, new_spec = copy.deepcopy(old.get("spec") or {}), copy.deepcopy(
            new.get("spec") or {})
        for key in ("volumeName", "storageClassName"):  # set once, by the binder
            if not old_spec.get(key) and new_spec.get(key):
                old_spec[key] = new_spec[key]
        bound = _base.nested(old, "status", "phase") == "Bound"
        for spec in (old_spec, new_spec):
            spec.pop("volumeAttributesClassName", None)
            if bound:
                spec.get("resources", {}).get("requests", {}).pop("storage", None)
        if old_spec != new_spec:
            errs.append(forbidden("spec", IMMUTABLE_SPEC + "\n" + _spec_diff(old_spec, new_spec)))
        try:
            smaller = parse_quantity(_storage(new)) < parse_quantity(_storage(old))
        except (TypeError, ValueError):
            smaller = False
        if smaller:
            errs.append(forbidden("spec.resources.requests.storage", SMALLER))
        return errs


def cells(obj: _base.Object, now: datetime.datetime) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    bound = bool(spec.get("volumeName")) and status.get("phase") == "Bound"
    return [name(obj), str(status.get("phase", "")), str(spec.get("volumeName") or ""),
            str((status.get("capacity") or {}).get("storage", "")) if bound else "",
            access_modes_text(status.get("accessModes")) if bound else "",
            str(spec.get("storageClassName") or ""),
            str(spec.get("volumeAttributesClassName") or "<unset>"), age(obj, now),
            str(spec.get("volumeMode") or "")]


COLUMNS = (
    _base.NAME_COLUMN,
    _base.Column("Status"), _base.Column("Volume"), _base.Column("Capacity"),
    _base.Column("Access Modes"),
    _base.Column("StorageClass"), _base.Column("VolumeAttributesClass"), _base.AGE_COLUMN,
    _base.Column("VolumeMode", priority=1),
)

PERSISTENTVOLUMECLAIMS = _base.ResourceType(
    group="", version="v1", kind="PersistentVolumeClaim", plural="persistentvolumeclaims",
    singular="persistentvolumeclaim", namespaced=True,
    strategy=PersistentVolumeClaimStrategy(), table=_base.Table(COLUMNS, cells),
    short_names=("pvc",), subresources=(_base.Subresource("status"),), generation=False,
)
