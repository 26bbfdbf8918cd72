"""HorizontalPodAutoscaler between autoscaling/v2 (stored) and autoscaling/v1 (pure).

kube-apiserver stores HPAs in one version and serves them as v1 and v2; v1 only
knows a CPU utilization target, so its conversion (`pkg/apis/autoscaling/v1`)
carries everything else in annotations:

- `spec.targetCPUUtilizationPercentage` <-> the first `Resource` metric on `cpu`
  with a `Utilization` target; the other metrics go, in v1's older shape
  (`targetAverageUtilization`, `metricName`, ...), into
  `autoscaling.alpha.kubernetes.io/metrics`;
- `status.currentCPUUtilizationPercentage` <- that metric's current utilization;
  all current metrics into `autoscaling.alpha.kubernetes.io/current-metrics`;
- `spec.behavior` and `status.conditions` into `.../behavior` and `.../conditions`.

Reading v1 drops any of these annotations the object had and writes them anew;
writing v1 takes the metrics, behavior and conditions back out of them (and
removes them), so an object read as v1 and written back is unchanged.
"""

from __future__ import annotations

from typing import Any

import orjson

from portico.apiserver import errors
from portico.apiserver.resources import _base

PREFIX = "autoscaling.alpha.kubernetes.io/"
METRICS = PREFIX + "metrics"
CURRENT_METRICS = PREFIX + "current-metrics"
BEHAVIOR = PREFIX + "behavior"
CONDITIONS = PREFIX + "conditions"
ROUND_TRIP = (METRICS, CURRENT_METRICS, BEHAVIOR, CONDITIONS)

# (v1 field, v2 path) of each metric source, in v1's field order
_SPEC_FIELDS: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "object": (("target", ("describedObject",)), ("metricName", ("metric", "name")),
               ("targetValue", ("target", "value")), ("selector", ("metric", "selector")),
               ("averageValue", ("target", "averageValue"))),
    "pods": (("metricName", ("metric", "name")),
             ("targetAverageValue", ("target", "averageValue")),
             ("selector", ("metric", "selector"))),
    "resource": (("name", ("name",)),
                 ("targetAverageUtilization", ("target", "averageUtilization")),
                 ("targetAverageValue", ("target", "averageValue"))),
    "containerResource": (("name", ("name",)),
                          ("targetAverageUtilization", ("target", "averageUtilization")),
                          ("targetAverageValue", ("target", "averageValue")),
                          ("container", ("container",))),
    "external": (("metricName", ("metric", "name")), ("metricSelector", ("metric", "selector")),
                 ("targetValue", ("target", "value")),
                 ("targetAverageValue", ("target", "averageValue"))),
}


def _as_status(v1: str, path: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
    """A spec field's status twin: `target...` read from `current...` (`targetValue` is
    `currentValue` at `current.value`; `describedObject` stays)."""
    if path[0] != "target":
        return v1, path
    return ("current" + v1[len("target"):] if v1.startswith("target") else v1,
            ("current", *path[1:]))


_STATUS_FIELDS = {source: tuple(_as_status(v1, path) for v1, path in fields)
                  for source, fields in _SPEC_FIELDS.items()}
_SPEC_KEYS = ("scaleTargetRef", "minReplicas", "maxReplicas")
_STATUS_KEYS = ("observedGeneration", "lastScaleTime", "currentReplicas", "desiredReplicas")


def _get(obj: _base.Object, path: tuple[str, ...]) -> Any:
    cur: Any = obj
    for step in path:
        cur = cur.get(step) if isinstance(cur, dict) else None
    return cur


def _put(obj: _base.Object, path: tuple[str, ...], value: Any) -> None:
    for step in path[:-1]:
        obj = obj.setdefault(step, {})
    obj[path[-1]] = value


def _to_v1_metric(metric: _base.Object, fields: dict[str, Any]) -> _base.Object:
    kind = str(metric.get("type", ""))
    key = kind[0].lower() + kind[1:] if kind else ""
    out: _base.Object = {"type": kind}
    source = metric.get(key)
    if key in fields and isinstance(source, dict):
        out[key] = {v1: _get(source, path) for v1, path in fields[key]
                    if _get(source, path) is not None}
    return out


def _to_v2_metric(metric: _base.Object, fields: dict[str, Any], spec: bool) -> _base.Object:
    kind = str(metric.get("type", ""))
    key = kind[0].lower() + kind[1:] if kind else ""
    out: _base.Object = {"type": kind}
    source = metric.get(key)
    if key in fields and isinstance(source, dict):
        converted: _base.Object = {}
        for v1, path in fields[key]:
            if source.get(v1) is not None:
                _put(converted, path, source[v1])
        if spec:
            target = converted.setdefault("target", {})
            target["type"] = ("Utilization" if "averageUtilization" in target
                              else "Value" if "value" in target else "AverageValue")
        out[key] = converted
    return out


def _is_cpu_utilization(metric: _base.Object, side: str) -> bool:
    """Whether `metric` is the CPU Resource metric with an `averageUtilization` at `side`
    (`target` in a spec, `current` in a status)."""
    resource = metric.get("resource") if metric.get("type") == "Resource" else None
    return isinstance(resource, dict) and resource.get("name") == "cpu" \
        and _get(resource, (side, "averageUtilization")) is not None


def _cpu_utilization(metrics: list[_base.Object], side: str) -> Any:
    """The first CPU Resource metric's `averageUtilization` at `side`, or None."""
    cpu = next((m for m in metrics if _is_cpu_utilization(m, side)), None)
    return None if cpu is None else cpu["resource"][side]["averageUtilization"]


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def to_v1(stored: _base.Object) -> _base.Object:
    """The autoscaling/v1 form of a stored (v2) HPA (a new object)."""
    spec, status = stored.get("spec") or {}, stored.get("status")
    meta = dict(stored.get("metadata") or {})
    notes = {k: v for k, v in (meta.get("annotations") or {}).items() if k not in ROUND_TRIP}
    v1_spec = {k: spec[k] for k in _SPEC_KEYS if k in spec}
    metrics = spec.get("metrics") or []
    cpu = _cpu_utilization(metrics, "target")
    if cpu is not None:
        v1_spec["targetCPUUtilizationPercentage"] = cpu
    others = [_to_v1_metric(m, _SPEC_FIELDS) for m in metrics
              if not _is_cpu_utilization(m, "target")]
    if others:
        notes[METRICS] = _dumps(others)
    if spec.get("behavior"):
        notes[BEHAVIOR] = _dumps(spec["behavior"])
    out: _base.Object = {**stored, "apiVersion": "autoscaling/v1", "spec": v1_spec}
    if status is not None:
        out["status"] = _status_to_v1(status, notes)
    return _with_annotations(out, meta, notes)


def _with_annotations(out: _base.Object, meta: _base.Object, notes: dict[str, str]) -> _base.Object:
    """`out` with `meta` as its metadata, annotated with `notes` (none: no annotations)."""
    if notes:
        meta["annotations"] = notes
    else:
        meta.pop("annotations", None)
    out["metadata"] = meta
    return out


def _status_to_v1(status: _base.Object, notes: dict[str, str]) -> _base.Object:
    out = {k: status[k] for k in _STATUS_KEYS if k in status}
    current = status.get("currentMetrics") or []
    cpu = _cpu_utilization(current, "current")
    if cpu is not None:
        out["currentCPUUtilizationPercentage"] = cpu
    if current:
        notes[CURRENT_METRICS] = _dumps([_to_v1_metric(m, _STATUS_FIELDS) for m in current])
    if status.get("conditions"):
        notes[CONDITIONS] = _dumps(status["conditions"])
    return out


def _annotation(notes: dict[str, str], key: str) -> Any:
    try:
        return orjson.loads(notes[key])
    except orjson.JSONDecodeError as exc:
        raise errors.bad_request(f"annotation {key}: {exc}") from None


def to_v2(served: _base.Object) -> _base.Object:
    """The stored (v2) form of an autoscaling/v1 HPA (a new object)."""
    spec, status = served.get("spec") or {}, served.get("status")
    meta = dict(served.get("metadata") or {})
    given = meta.get("annotations") or {}
    notes = {k: v for k, v in given.items() if k not in ROUND_TRIP}
    v2_spec = {k: spec[k] for k in _SPEC_KEYS if k in spec}
    metrics: list[_base.Object] = []
    if spec.get("targetCPUUtilizationPercentage") is not None:
        metrics.append({"type": "Resource", "resource": {"name": "cpu", "target": {
            "type": "Utilization",
            "averageUtilization": spec["targetCPUUtilizationPercentage"]}}})
    if METRICS in given:
        metrics += [_to_v2_metric(m, _SPEC_FIELDS, True)
                    for m in _annotation(given, METRICS) or []]
    if metrics:
        v2_spec["metrics"] = metrics
    if BEHAVIOR in given:
        v2_spec["behavior"] = _annotation(given, BEHAVIOR)
    out: _base.Object = {**served, "apiVersion": "autoscaling/v2", "spec": v2_spec}
    if status is not None:
        out["status"] = _status_to_v2(status, given)
    return _with_annotations(out, meta, notes)


def _status_to_v2(status: _base.Object, given: dict[str, str]) -> _base.Object:
    out = {k: status[k] for k in _STATUS_KEYS if k in status}
    if CURRENT_METRICS in given:
        out["currentMetrics"] = [_to_v2_metric(m, _STATUS_FIELDS, False)
                                 for m in _annotation(given, CURRENT_METRICS) or []]
    elif status.get("currentCPUUtilizationPercentage") is not None:
        out["currentMetrics"] = [{"type": "Resource", "resource": {"name": "cpu", "current": {
            "averageUtilization": status["currentCPUUtilizationPercentage"]}}}]
    if CONDITIONS in given:
        out["conditions"] = _annotation(given, CONDITIONS)
    return out
