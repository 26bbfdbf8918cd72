"""ReplicaSets (apps/v1): defaults, selector/template validation, table.

The selector/template validation and the status rules are the workloads' shared ones
(`_workload`): status is owned by the server, cleared on create and carried over
from the stored object on update; the selector is immutable in apps/v1.
"""

from __future__ import annotations

import datetime
from typing import Any, ClassVar

from portico.apiserver.errors import FieldError
from portico.apiserver.resources import _base
from portico.apiserver.resources._meta import validate_nonnegative
from portico.apiserver.resources._owned_status import OwnedStatusStrategy
from portico.apiserver.resources._pod_template import default_pod_template
from portico.apiserver.resources._printers import age, name
from portico.apiserver.resources._workload import (
    SCALE,
    selector_update_errors,
    validate_selector_and_template,
    wide_cells,
    wide_columns,
)


class ReplicaSetStrategy(OwnedStatusStrategy):
    INITIAL_STATUS: ClassVar[dict[str, Any]] = {"replicas": 0}

    def default(self, obj: _base.Object) -> None:
        spec = obj.setdefault("spec", {})
        spec.setdefault("replicas", 1)
        default_pod_template(spec.get("template"))

    def validate(self, obj: _base.Object) -> list[FieldError]:
        errs: list[FieldError] = []
        spec = obj.get("spec") or {}
        errs.extend(validate_nonnegative(spec.get("replicas"), "spec.replicas"))
        errs.extend(validate_nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds"))
        errs.extend(validate_selector_and_template(spec))
        return errs

    def validate_update(self, new: _base.Object, old: _base.Object) -> list[FieldError]:
        errs: list[FieldError] = []
        errs.extend(self.validate(new))
        errs.extend(selector_update_errors(new, old))
        return errs


def replica_counts(obj: _base.Object) -> list[int]:
    """The DESIRED, CURRENT and READY cells (ReplicaSets and ReplicationControllers)."""
    return [
        int(_base.nested(obj, "spec", "replicas", default=0) or 0),
        int(_base.nested(obj, "status", "replicas", default=0) or 0),
        int(_base.nested(obj, "status", "readyReplicas", default=0) or 0),
    ]


def cells(obj: _base.Object, now: datetime.datetime) -> list[Any]:
    return [name(obj), *replica_counts(obj), age(obj, now), *wide_cells(obj.get("spec") or {})]


COLUMNS = (
    _base.NAME_COLUMN,
    _base.Column("Desired", type="integer",
                 description="Replicas is the number of desired pods."),
    _base.Column("Current", type="integer", description=(
        "Replicas is the most recently observed number of non-terminating pods."
    )),
    _base.Column("Ready", type="integer", description=(
        "The number of non-terminating pods targeted by this ReplicaSet with a "
        "Ready Condition."
    )),
    _base.AGE_COLUMN,
    *wide_columns("Selector is a label query over pods that should match the replica count."),
)


def _status_replicas(obj: _base.Object) -> str:
    return str(int(_base.nested(obj, "status", "replicas", default=0) or 0))


REPLICASETS = _base.ResourceType(
    group="apps", version="v1", kind="ReplicaSet", plural="replicasets", singular="replicaset",
    namespaced=True, strategy=ReplicaSetStrategy(), table=_base.Table(COLUMNS, cells),
    short_names=("rs",), categories=("all",),
    subresources=(_base.Subresource("status"), SCALE),
    field_selectors={"status.replicas": _status_replicas},
    generation=True,
)
