"""HorizontalPodAutoscalers (autoscaling/v2, also served as v1): defaults, validation, columns.

Defaults (autoscaling/v2 `SetDefaults_HorizontalPodAutoscaler`): `minReplicas: 1`;
no `metrics` means CPU at 80% average utilization.  Validation: a scale target kind
and name, `minReplicas` >= 1, `maxReplicas` >= 1 and >= minReplicas, resource
metrics with a `target`.  TARGETS is `cpu: 12%/50%` (`<unknown>` before the first
measurement), as kubectl 1.32's printer shows it.

Objects are stored as v2; `autoscaling/v1` (what `kubectl autoscale` posts) is the
same objects through `_hpa_versions`' conversion: writes convert to v2 before the
v2 hooks run, reads convert back; its only own default is v1's `minReplicas: 1`
(server-side apply defaults the v1 form before it is converted).
"""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any, ClassVar

from portico.apiserver.errors import FieldError, invalid, required
from portico.apiserver.resources import _base
from portico.apiserver.resources._hpa_versions import to_v1, to_v2
from portico.apiserver.resources._owned_status import OwnedStatusStrategy
from portico.apiserver.resources._printers import age, name

DEFAULT_CPU = {"type": "Resource", "resource": {
    "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}


class HorizontalPodAutoscalerStrategy(OwnedStatusStrategy):
    INITIAL_STATUS: ClassVar[dict[str, Any]] = {"currentReplicas": 0, "desiredReplicas": 0}

    def default(self, obj: _base.Object) -> None:
        spec = obj.setdefault("spec", {})
        spec.setdefault("minReplicas", 1)
        if not spec.get("metrics"):
            spec["metrics"] = [DEFAULT_CPU]

    def validate(self, obj: _base.Object) -> list[FieldError]:
        spec = obj.get("spec") or {}
        errs: list[FieldError] = []
        ref = spec.get("scaleTargetRef") or {}
        for key in ("kind", "name"):
            if not ref.get(key):
                errs.append(required(f"spec.scaleTargetRef.{key}"))
        low, high = spec.get("minReplicas"), spec.get("maxReplicas")
        if isinstance(low, int) and low < 1:
            errs.append(invalid("spec.minReplicas", low, "must be greater than or equal to 1"))
        if not isinstance(high, int) or high < 1:
            errs.append(invalid("spec.maxReplicas", high, "must be greater than 0"))
        elif isinstance(low, int) and high < low:
            errs.append(invalid("spec.maxReplicas", high,
                                "must be greater than or equal to `minReplicas`"))
        for i, metric in enumerate(spec.get("metrics") or []):
            if metric.get("type") == "Resource" and not _base.nested(metric, "resource", "target"):
                errs.append(required(f"spec.metrics[{i}].resource.target",
                                     "must specify a metric target"))
        return errs


def _target(metric: _base.Object, current: _base.Object | None) -> str:
    resource = metric.get("resource") or metric.get("containerResource") or {}
    target = resource.get("target") or {}
    shown = (current or {}).get("current") or {}
    if target.get("type") == "Utilization":
        now = shown.get("averageUtilization")
        value = f"{now}%" if now is not None else "<unknown>"
        return f"{resource.get('name')}: {value}/{target.get('averageUtilization')}%"
    now = shown.get("averageValue") or shown.get("value")
    want = target.get("averageValue") or target.get("value")
    return f"{resource.get('name')}: {now if now is not None else '<unknown>'}/{want}"


def targets(obj: _base.Object) -> str:
    metrics = _base.nested(obj, "spec", "metrics") or []
    current = _base.nested(obj, "status", "currentMetrics") or []
    shown = []
    for i, metric in enumerate(metrics):
        status = current[i] if i < len(current) else None
        key = "resource" if metric.get("type") == "Resource" else "containerResource"
        shown.append(_target(metric, (status or {}).get(key)))
    return ", ".join(shown) if shown else "<none>"


def cells(obj: _base.Object, now: datetime.datetime) -> list[Any]:
    spec = obj.get("spec") or {}
    ref = spec.get("scaleTargetRef") or {}
    return [name(obj), f"{ref.get('kind', '')}/{ref.get('name', '')}", targets(obj),
            spec.get("minReplicas", 1), spec.get("maxReplicas", 0),
            int(_base.nested(obj, "status", "currentReplicas", default=0) or 0), age(obj, now)]


COLUMNS = (
    _base.NAME_COLUMN,
    _base.Column("Reference", description="Reference to the target resource"),
    _base.Column("Targets", description="The current and target metric values"),
    _base.Column("MinPods", type="integer", description="The minimum number of replicas"),
    _base.Column("MaxPods", type="integer", description="The maximum number of replicas"),
    _base.Column("Replicas", type="integer", description="The current number of replicas"),
    _base.AGE_COLUMN,
)

HORIZONTALPODAUTOSCALERS = _base.ResourceType(
    group="autoscaling", version="v2", kind="HorizontalPodAutoscaler",
    plural="horizontalpodautoscalers", singular="horizontalpodautoscaler", namespaced=True,
    strategy=HorizontalPodAutoscalerStrategy(), table=_base.Table(COLUMNS, cells),
    short_names=("hpa",), categories=("all",), subresources=(_base.Subresource("status"),),
)


class HorizontalPodAutoscalerV1Strategy(HorizontalPodAutoscalerStrategy):
    """autoscaling/v1: the v2 hooks on objects converted to v2."""

    def default(self, obj: _base.Object) -> None:
        if obj.get("apiVersion") == "autoscaling/v1":
            obj.setdefault("spec", {}).setdefault("minReplicas", 1)
        else:
            super().default(obj)

    def read(self, stored: _base.Object) -> _base.Object:
        return to_v1(stored)

    def to_storage(self, served: _base.Object) -> _base.Object:
        return to_v2(served)


def _v1_cells(obj: _base.Object, now: datetime.datetime) -> list[Any]:
    return cells(to_v2(obj), now)


HORIZONTALPODAUTOSCALERS_V1 = dataclasses.replace(
    HORIZONTALPODAUTOSCALERS, version="v1", strategy=HorizontalPodAutoscalerV1Strategy(),
    table=_base.Table(COLUMNS, _v1_cells), storage_version="v2",
)
