"""PersistentVolumes (core/v1): validation, defaults, table.

Defaults: `persistentVolumeReclaimPolicy: Retain`, `volumeMode: Filesystem`, status
`phase: Pending` on create (the PV controller makes it Available, Bound, Released).
A PV needs a capacity (`spec.capacity: Required value`), access modes and exactly one
volume source (`spec: Required value: must specify a volume type`).
"""

from __future__ import annotations

import datetime
from typing import Any

from portico.apiserver.errors import FieldError, forbidden, not_supported, required
from portico.apiserver.resources import _base
from portico.apiserver.resources._printers import age, name
from portico.apiserver.resources._volume_claims import (
    access_modes_text,
    validate_access_modes,
    validate_storage,
    validate_volume_mode,
)

RECLAIM_POLICIES = ("Delete", "Recycle", "Retain")
SOURCES = ("hostPath", "local", "nfs", "csi", "iscsi", "fc", "azureDisk", "azureFile",
           "gcePersistentDisk", "awsElasticBlockStore", "cephfs", "rbd", "cinder", "flexVolume",
           "glusterfs", "flocker", "vsphereVolume", "quobyte", "portworxVolume", "scaleIO",
           "storageos", "photonPersistentDisk")


class PersistentVolumeStrategy(_base.Strategy):
    def default(self, obj: _base.Object) -> None:
        spec = obj.setdefault("spec", {})
        spec.setdefault("persistentVolumeReclaimPolicy", "Retain")
        spec.setdefault("volumeMode", "Filesystem")

    def prepare_for_create(self, obj: _base.Object) -> None:
        obj["status"] = {"phase": "Pending"}

    def validate(self, obj: _base.Object) -> list[FieldError]:
        spec = obj.get("spec") or {}
        errs = validate_access_modes(spec.get("accessModes"), "spec.accessModes")
        capacity = spec.get("capacity")
        if not capacity:
            errs.append(required("spec.capacity"))
        else:
            errs += validate_storage(capacity.get("storage"), "spec.capacity[storage]")
        sources = [s for s in SOURCES if spec.get(s) is not None]
        if not sources:
            errs.append(required("spec", "must specify a volume type"))
        elif len(sources) > 1:
            errs.append(forbidden(f"spec.{sources[1]}", "may not specify more than 1 volume type"))
        policy = spec.get("persistentVolumeReclaimPolicy")
        if policy not in RECLAIM_POLICIES:
            errs.append(not_supported("spec.persistentVolumeReclaimPolicy", policy,
                                      RECLAIM_POLICIES))
        errs += validate_volume_mode(spec.get("volumeMode"), "spec.volumeMode")
        return errs

    def validate_update(self, new: _base.Object, old: _base.Object) -> list[FieldError]:
        errs = self.validate(new)
        for key in ("volumeMode",):
            if _base.nested(new, "spec", key) != _base.nested(old, "spec", key):
                errs.append(forbidden(f"spec.{key}", "field is immutable"))
        return errs


def _claim(obj: _base.Object) -> str:
    ref = _base.nested(obj, "spec", "claimRef") or {}
    return f"{ref.get('namespace', '')}/{ref.get('name', '')}" if ref.get("name") else ""


def cells(obj: _base.Object, now: datetime.datetime) -> list[Any]:
    spec = obj.get("spec") or {}
    return [name(obj), str((spec.get("capacity") or {}).get("storage", "")),
            access_modes_text(spec.get("accessModes")),
            str(spec.get("persistentVolumeReclaimPolicy", "")),
            str(_base.nested(obj, "status", "phase", default="") or ""), _claim(obj),
            str(spec.get("storageClassName") or ""),
            str(spec.get("volumeAttributesClassName") or "<unset>"),
            str(_base.nested(obj, "status", "reason", default="") or ""), age(obj, now),
            str(spec.get("volumeMode") or "")]


COLUMNS = (
    _base.NAME_COLUMN,
    _base.Column("Capacity"), _base.Column("Access Modes"), _base.Column("Reclaim Policy"),
    _base.Column("Status"), _base.Column("Claim"), _base.Column("StorageClass"),
    _base.Column("VolumeAttributesClass"), _base.Column("Reason"),
    _base.AGE_COLUMN, _base.Column("VolumeMode", priority=1),
)

PERSISTENTVOLUMES = _base.ResourceType(
    group="", version="v1", kind="PersistentVolume", plural="persistentvolumes",
    singular="persistentvolume", namespaced=False, strategy=PersistentVolumeStrategy(),
    table=_base.Table(COLUMNS, cells), short_names=("pv",),
    subresources=(_base.Subresource("status"),),
    generation=False,
)
