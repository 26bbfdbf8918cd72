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
from portico.apiserver.resources import _base
from portico.apiserver.resources._printers import age, name

DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"
RECLAIM_POLICIES = ("Delete", "Retain")
BINDING_MODES = ("Immediate", "WaitForFirstConsumer")
_IMMUTABLE = ("parameters", "provisioner", "reclaimPolicy", "volumeBindingMode")


def is_default_class(obj: _base.Object) -> bool:
    return bool(_base.nested(obj, "metadata", "annotations", DEFAULT_CLASS_ANNOTATION) == "true")


class StorageClassStrategy(_base.Strategy):
    def default(self, obj: _base.Object) -> None:
        obj.setdefault("reclaimPolicy", "Delete")
        obj.setdefault("volumeBindingMode", "Immediate")

    def validate(self, obj: _base.Object) -> list[FieldError]:
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

    def validate_update(self, new: _base.Object, old: _base.Object) -> list[FieldError]:
        errs = self.validate(new)
        for key in _IMMUTABLE:
            if (new.get(key) or None) != (old.get(key) or None):
                errs.append(forbidden(key, f"updates to {key} are forbidden."))
        return errs


def cells(obj: _base.Object, now: datetime.datetime) -> list[Any]:
    shown = name(obj) + (" (default)" if is_default_class(obj) else "")
    return [shown, str(obj.get("provisioner", "")), str(obj.get("reclaimPolicy", "")),
            str(obj.get("volumeBindingMode", "")), bool(obj.get("allowVolumeExpansion")),
            age(obj, now)]


COLUMNS = (
    _base.NAME_COLUMN,
    _base.Column("Provisioner", description="provisioner indicates the type of the provisioner."),
    _base.Column("ReclaimPolicy", description="reclaimPolicy controls the reclaimPolicy for "
                 "dynamically provisioned PersistentVolumes of this storage class."),
    _base.Column("VolumeBindingMode", description="volumeBindingMode indicates how "
                 "PersistentVolumeClaims should be provisioned and bound."),
    _base.Column("AllowVolumeExpansion", type="boolean",
                 description="allowVolumeExpansion shows whether the storage class allow volume "
                 "expand."),
    _base.AGE_COLUMN,
)

STORAGECLASSES = _base.ResourceType(
    group="storage.k8s.io", version="v1", kind="StorageClass", plural="storageclasses",
    singular="storageclass", namespaced=False, strategy=StorageClassStrategy(),
    table=_base.Table(COLUMNS, cells), short_names=("sc",), has_status=False, generation=False,
)
