"""DaemonSets (apps/v1): defaults, validation, table.

Defaults are `SetDefaults_DaemonSet`: updateStrategy RollingUpdate with
maxUnavailable 1 and maxSurge 0, revisionHistoryLimit 10, plus the pod template
defaults. Validation is `ValidateDaemonSetSpec`: the selector and template rules
shared with the other apps kinds (restartPolicy Always), the rolling update's
int-or-percent checks shared with Deployments, and an immutable selector.
The columns are kubectl's DESIRED, CURRENT, READY, UP-TO-DATE, AVAILABLE and
NODE SELECTOR from the status counters and the template's nodeSelector.
"""

from __future__ import annotations

import datetime
from typing import Any, ClassVar

from portico.apiserver.errors import FieldError, not_supported
from portico.apiserver.resources import _base
from portico.apiserver.resources._meta import validate_nonnegative
from portico.apiserver.resources._owned_status import OwnedStatusStrategy
from portico.apiserver.resources._pod_template import (
    default_pod_template,
)
from portico.apiserver.resources._printers import age, name
from portico.apiserver.resources._workload import (
    default_rolling_update,
    selector_update_errors,
    validate_selector_and_template,
    wide_cells,
    wide_columns,
)
from portico.apiserver.resources.deployments import validate_rolling_update

UPDATE_STRATEGIES = ("OnDelete", "RollingUpdate")


class DaemonSetStrategy(OwnedStatusStrategy):
    INITIAL_STATUS: ClassVar[dict[str, Any]] = {
        "currentNumberScheduled": 0, "numberMisscheduled": 0, "desiredNumberScheduled": 0,
        "numberReady": 0}

    def default(self, obj: _base.Object) -> None:
        spec = obj.setdefault("spec", {})
        default_rolling_update(spec, "updateStrategy", maxUnavailable=1, maxSurge=0)
        spec.setdefault("revisionHistoryLimit", 10)
        default_pod_template(spec.get("template"))

    def validate(self, obj: _base.Object) -> list[FieldError]:
        return validate_daemonset_spec(obj.get("spec") or {})

    def validate_update(self, new: _base.Object, old: _base.Object) -> list[FieldError]:
        errs = validate_daemonset_spec(new.get("spec") or {})
        errs.extend(selector_update_errors(new, old))
        return errs


def validate_daemonset_spec(spec: _base.Object) -> list[FieldError]:
    errs = validate_selector_and_template(spec, "daemonset")
    errs.extend(validate_nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds"))
    errs.extend(validate_nonnegative(spec.get("revisionHistoryLimit"),
                                     "spec.revisionHistoryLimit"))
    strategy = spec.get("updateStrategy") or {}
    kind = strategy.get("type") or ""
    if kind not in UPDATE_STRATEGIES:
        errs.append(not_supported("spec.updateStrategy.type", kind, UPDATE_STRATEGIES))
    elif kind == "RollingUpdate":
        errs.extend(validate_rolling_update(strategy.get("rollingUpdate") or {},
                                            "spec.updateStrategy.rollingUpdate"))
    return errs


def _node_selector(spec: _base.Object) -> str:
    """`labels.FormatLabels`: `k=v,...` sorted, `<none>` when empty."""
    selector = _base.nested(spec, "template", "spec", "nodeSelector", default=None) or {}
    return ",".join(f"{k}={v}" for k, v in sorted(selector.items())) or "<none>"


def cells(obj: _base.Object, now: datetime.datetime) -> list[Any]:
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    return [
        name(obj),
        int(status.get("desiredNumberScheduled") or 0),
        int(status.get("currentNumberScheduled") or 0),
        int(status.get("numberReady") or 0),
        int(status.get("updatedNumberScheduled") or 0),
        int(status.get("numberAvailable") or 0),
        _node_selector(spec),
        age(obj, now),
        *wide_cells(spec),
    ]


COLUMNS = (
    _base.NAME_COLUMN,
    _base.Column("Desired", type="integer", description="The total number of nodes that should be "
                 "running the daemon pod (including nodes correctly running the daemon pod)."),
    _base.Column("Current", type="integer", description="The number of nodes that are running at "
                 "least 1 daemon pod and are supposed to run the daemon pod."),
    _base.Column("Ready", type="integer", description="numberReady is the number of nodes that "
                 "should be running the daemon pod and have one or more of the daemon pod running "
                 "with a Ready Condition."),
    _base.Column("Up-to-date", type="integer", description="The total number of nodes that are "
                 "running updated daemon pod"),
    _base.Column("Available", type="integer", description="The number of nodes that should be "
                 "running the daemon pod and have one or more of the daemon pod running and "
                 "available (ready for at least spec.minReadySeconds)"),
    _base.Column("Node Selector", description="NodeSelector is a selector which must be true for "
                 "the pod to fit on a node. Selector which must match a node's labels for the pod "
                 "to be scheduled on that node."),
    _base.AGE_COLUMN,
    *wide_columns("A label query over pods that are managed by "
                  "the daemon set. Must match in order to be controlled."),
)

DAEMONSETS = _base.ResourceType(
    group="apps", version="v1", kind="DaemonSet", plural="daemonsets", singular="daemonset",
    namespaced=True, strategy=DaemonSetStrategy(), table=_base.Table(COLUMNS, cells),
    short_names=("ds",), categories=("all",), subresources=(_base.Subresource("status"),),
    generation=True,
)
