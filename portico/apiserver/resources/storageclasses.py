"""StorageClasses (storage.k8s.io/v1): validation, immutable fields, the default mark.

`provisioner` is required; `reclaimPolicy` (default Delete) is Delete or Retain and
`volumeBindingMode` (default Immediate) Immediate or WaitForFirstConsumer.  After
creation `provisioner`, `parameters`, `reclaimPolicy` and `volumeBindingMode` may not
change (kube-apiserver's `ValidateStorageClassUpdate` texts).  The class annotated
`storageclass.kubernetes.io/is-default-class: "true"` is shown as `NAME (default)`.
"""

from __future__ import annotations

import datetime
from typing import Any

from portico.apiserver.errors import FieldError, forbidden, not_supported, required
from portico.apiserver.resources._base import (
    AGE_COLUMN,
    NAME_COLUMN,
    Column,
    Object,
    ResourceType,
    Strategy,
    Table,
    nested,
)
from portico.apiserver.resources._printers import age, name

DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"
RECLAIM_POLICIES = ("Delete", "Retain")
BINDING_MODES = ("Immediate", "WaitForFirstConsumer")
_IMMUTABLE = ("parameters", "provisioner", "reclaimPolicy", "volumeBindingMode")


def is_default_class(obj: Object) -> bool:
    return bool(nested(obj, "metadata", "annotations", DEFAULT_CLASS_ANNOTATION) == "true")


class StorageClassStrategy(Strategy):
    def default(self, obj: Object) -> None:
        obj.setdefault("reclaimPolicy", "Delete")
        obj.setdefault("volumeBindingMode", "Immediate")

    def validate(self, obj: Object) -> list[FieldError]:
        errs: list[FieldError] = []
        if not obj.get("provisioner"):
            errs.append(required("provisioner"))
        if obj.get("reclaimPolicy") not in RECLAIM_POLICIES:
            errs.append(not_supported("reclaimPolicy", obj.get("reclaimPolicy"),
                                      RECLAIM_POLICIES))
        if obj.get("volumeBindingMode") not in BINDING_MODES:
            errs.append(not_supported("volumeBindingMode", obj.get("volumeBindingMode"),
                                      BINDING_MODES))
        return errs

    def validate_update(self, new: Object, old: Object) -> list[FieldError]:
        errs = self.validate(new)
        for key in _IMMUTABLE:
            if (new.get(key) or None) != (old.get(key) or None):
                errs.append(forbidden(key, f"updates to {key} are forbidden."))
        return errs


def cells(obj: Object, now: datetime.datetime) -> list[Any]:
    shown = name(obj) + (" (default)" if is_default_class(obj) else "")
    return [shown, str(obj.get("provisioner", "")), str(obj.get("reclaimPolicy", "")),
            str(obj.get("volumeBindingMode", "")), bool(obj.get("allowVolumeExpansion")),
            age(obj, now)]


COLUMNS = (
    NAME_COLUMN,
    Column("Provisioner", description="provisioner indicates the type of the provisioner."),
    Column("ReclaimPolicy", description="reclaimPolicy controls the reclaimPolicy for "
           "dynamically provisioned PersistentVolumes of this storage class."),
    Column("VolumeBindingMode", description="volumeBindingMode indicates how "
           "PersistentVolumeClaims should be provisioned and bound."),
    Column("AllowVolumeExpansion", type="boolean",
           description="allowVolumeExpansion shows whether the storage class allow volume "
           "expand."),
    AGE_COLUMN,
)

STORAGECLASSES = ResourceType(
    group="storage.k8s.io", version="v1", kind="StorageClass", plural="storageclasses",
    singular="storageclass", namespaced=False, strategy=StorageClassStrategy(),
    table=Table(COLUMNS, cells), short_names=("sc",), has_status=False, generation=False,
)
