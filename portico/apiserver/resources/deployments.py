"""Deployments (apps/v1): defaults, validation, status ownership, table.

Defaults are `SetDefaults_Deployment` (replicas 1, RollingUpdate with 25%/25%,
revisionHistoryLimit 10, progressDeadlineSeconds 600) plus the pod template defaults.
Validation is `ValidateDeploymentSpec`; the selector/template checks are shared with
ReplicaSets. READY is `readyReplicas/spec.replicas`.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

from portico.apiserver.errors import FieldError, forbidden, invalid, not_supported, required
from portico.apiserver.resources import _base
from portico.apiserver.resources._meta import (
    regex_error,
    validate_nonnegative,
)
from portico.apiserver.resources._owned_status import OwnedStatusStrategy
from portico.apiserver.resources._pod_template import (
    default_pod_template,
)
from portico.apiserver.resources._printers import age, name
from portico.apiserver.resources._workload import (
    SCALE,
    default_rolling_update,
    selector_update_errors,
    validate_selector_and_template,
    wide_cells,
    wide_columns,
)

STRATEGY_TYPES = ("Recreate", "RollingUpdate")
_PERCENT_RE = re.compile(r"^[0-9]+%$")
_PERCENT_MSG = "a valid percent string must be a numeric string followed by an ending '%'"


def _int_or_percent(value: Any, path: str) -> tuple[list[FieldError], int | None]:
    """`ValidatePositiveIntOrPercent`; also returns the number (percent or count)."""
    if isinstance(value, str):
        if not _PERCENT_RE.match(value):
            return [invalid(path, value, regex_error(_PERCENT_MSG, "[0-9]+%", "1%", "93%"))], None
        return [], int(value[:-1])
    if isinstance(value, int):
        return validate_nonnegative(value, path), value
    return [], None


def validate_rolling_update(rolling: _base.Object, path: str) -> list[FieldError]:
    unavailable = rolling.get("maxUnavailable")
    surge = rolling.get("maxSurge")
    errs, unavailable_n = _int_or_percent(unavailable, f"{path}.maxUnavailable")
    surge_errs, surge_n = _int_or_percent(surge, f"{path}.maxSurge")
    errs.extend(surge_errs)
    if unavailable_n == 0 and surge_n == 0:
        errs.append(invalid(
            f"{path}.maxUnavailable", unavailable, "may not be 0 when `maxSurge` is 0"
        ))
    if isinstance(unavailable, str) and unavailable_n is not None and unavailable_n > 100:
        errs.append(invalid(f"{path}.maxUnavailable", unavailable, "must not be greater than 100%"))
    return errs


def _validate_strategy(strategy: _base.Object) -> list[FieldError]:
    kind = strategy.get("type") or ""
    if kind == "Recreate":
        if strategy.get("rollingUpdate") is not None:
            return [forbidden(
                "spec.strategy.rollingUpdate",
                "may not be specified when strategy `type` is 'Recreate'",
            )]
        return []
    if kind == "RollingUpdate":
        rolling = strategy.get("rollingUpdate")
        if rolling is None:
            return [required(
                "spec.strategy.rollingUpdate", "this should be defaulted and never be nil"
            )]
        return validate_rolling_update(rolling, "spec.strategy.rollingUpdate")
    return [not_supported("spec.strategy", kind, STRATEGY_TYPES)]


def validate_deployment_spec(spec: _base.Object) -> list[FieldError]:
    errs = validate_nonnegative(spec.get("replicas"), "spec.replicas")
    errs.extend(validate_selector_and_template(spec))
    errs.extend(_validate_strategy(spec.get("strategy") or {}))
    min_ready = spec.get("minReadySeconds") or 0
    errs.extend(validate_nonnegative(min_ready, "spec.minReadySeconds"))
    errs.extend(validate_nonnegative(spec.get("revisionHistoryLimit"), "spec.revisionHistoryLimit"))
    deadline = spec.get("progressDeadlineSeconds")
    if isinstance(deadline, int):
        if deadline <= 0:
            errs.append(invalid("spec.progressDeadlineSeconds", deadline, "must be greater than 0"))
        if deadline <= min_ready:
            errs.append(invalid(
                "spec.progressDeadlineSeconds", deadline, "must be greater than minReadySeconds"
            ))
    return errs


class DeploymentStrategy(OwnedStatusStrategy):
    def default(self, obj: _base.Object) -> None:
        spec = obj.setdefault("spec", {})
        spec.setdefault("replicas", 1)
        default_rolling_update(spec, "strategy", maxUnavailable="25%", maxSurge="25%")
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
        default_pod_template(spec.get("template"))

    def validate(self, obj: _base.Object) -> list[FieldError]:
        return validate_deployment_spec(obj.get("spec") or {})

    def validate_update(self, new: _base.Object, old: _base.Object) -> list[FieldError]:
        return [*self.validate(new), *selector_update_errors(new, old)]


def cells(obj: _base.Object, now: datetime.datetime) -> list[Any]:
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    return [
        name(obj),
        f"{int(status.get('readyReplicas') or 0)}/{int(spec.get('replicas') or 0)}",
        int(status.get("updatedReplicas") or 0),
        int(status.get("availableReplicas") or 0),
        age(obj, now),
        *wide_cells(spec),
    ]


COLUMNS = (
    _base.NAME_COLUMN,
    _base.Column("Ready", description="Number of the pod with ready state"),
    _base.Column("Up-to-date", type="integer",
                 description="Total number of non-terminated pods targeted by this deployment that "
                 "have the desired template spec."),
    _base.Column("Available", type="integer",
                 description="Total number of available pods (ready for at least minReadySeconds) "
                 "targeted by this deployment."),
    _base.AGE_COLUMN,
    *wide_columns("Label selector for pods. Existing ReplicaSets whose pods are selected by "
                  "this will be the ones affected by this deployment."),
)

DEPLOYMENTS = _base.ResourceType(
    group="apps", version="v1", kind="Deployment", plural="deployments", singular="deployment",
    namespaced=True, strategy=DeploymentStrategy(), table=_base.Table(COLUMNS, cells),
    short_names=("deploy",), categories=("all",),
    subresources=(_base.Subresource("status"), SCALE),
    generation=True,
)
