"""Namespaces (core/v1, cluster-scoped).

Defaults: the `kubernetes.io/metadata.name` label (always equal to the name) and
`status.phase: Active`. On create the `kubernetes` finalizer is added to
`spec.finalizers`; updates keep the stored finalizers and status (those change only
through the `finalize` and `status` subresources). Names are DNS-1123 labels.
Namespaces serve no `deletecollection`.
"""

from __future__ import annotations

import copy
import datetime
from typing import Any

from portico.apiserver.errors import FieldError, invalid
from portico.apiserver.resources import _base
from portico.apiserver.resources._printers import age, name
from portico.model.validation import is_qualified_name

NAME_LABEL = "kubernetes.io/metadata.name"
FINALIZER_KUBERNETES = "kubernetes"


def _validate_finalizers(finalizers: Any) -> list[FieldError]:
    """`validateFinalizerName` for `spec.finalizers`."""
    errs: list[FieldError] = []
    for i, fin in enumerate(finalizers or []):
        path = f"spec.finalizers[{i}]"
        msgs = is_qualified_name(fin)
        errs.extend(invalid(path, fin, m) for m in msgs)
        if not msgs and "/" not in fin and fin != FINALIZER_KUBERNETES:
            errs.append(invalid(
                path, fin, "name is neither a standard finalizer name nor is it fully qualified"
            ))
    return errs


class NamespaceStrategy(_base.Strategy):
    name_validation = "label"

    def default(self, obj: _base.Object) -> None:
        meta = obj.setdefault("metadata", {})
        if meta.get("name"):
            labels = meta.get("labels")
            if not isinstance(labels, dict):
                labels = meta["labels"] = {}
            labels[NAME_LABEL] = meta["name"]
        status = obj.get("status")
        if not isinstance(status, dict):
            status = obj["status"] = {}
        status.setdefault("phase", "Active")

    def prepare_for_create(self, obj: _base.Object) -> None:
        obj["status"] = {"phase": "Active"}
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            spec = obj["spec"] = {}
        finalizers = spec.setdefault("finalizers", [])
        if FINALIZER_KUBERNETES not in finalizers:
            finalizers.append(FINALIZER_KUBERNETES)

    def prepare_for_update(self, new: _base.Object, old: _base.Object) -> None:
        new.setdefault("spec", {})
        old_finalizers = _base.nested(old, "spec", "finalizers")
        if old_finalizers is None:
            new["spec"].pop("finalizers", None)
        else:
            new["spec"]["finalizers"] = copy.deepcopy(old_finalizers)
        new["status"] = copy.deepcopy(old.get("status") or {"phase": "Active"})

    def validate(self, obj: _base.Object) -> list[FieldError]:
        errs: list[FieldError] = []
        errs.extend(_validate_finalizers(_base.nested(obj, "spec", "finalizers")))
        return errs

    def validate_update(self, new: _base.Object, old: _base.Object) -> list[FieldError]:
        errs: list[FieldError] = []
        errs.extend(_validate_finalizers(_base.nested(new, "spec", "finalizers")))
        return errs


def cells(obj: _base.Object, now: datetime.datetime) -> list[Any]:
    return [name(obj), str(_base.nested(obj, "status", "phase", default="") or ""), age(obj, now)]


COLUMNS = (
    _base.NAME_COLUMN,
    _base.Column("Status", description="The status of the namespace"),
    _base.AGE_COLUMN,
)

NAMESPACES = _base.ResourceType(
    group="", version="v1", kind="Namespace", plural="namespaces", singular="namespace",
    namespaced=False, strategy=NamespaceStrategy(), table=_base.Table(COLUMNS, cells),
    short_names=("ns",),
    subresources=(
        _base.Subresource("finalize", verbs=("update",)),
        _base.Subresource("status"),
    ),
    verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
    field_selectors={"status.phase": _base.field_selector_fn("status", "phase")},
    generation=False,
)
