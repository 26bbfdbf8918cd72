"""The HorizontalPodAutoscaler's arithmetic, as kube-controller-manager's (pure).

`cpu_proposal`: from the pods' CPU usage and requests, the replica count the CPU
utilization target asks for (`replica_calculator.go`): utilization = sum(usage) /
sum(requests) over the pods with metrics; within the tolerance (0.1) of the target
the count stays; otherwise ceil(ratio * pods with metrics).  Pods without metrics
count as 0% when scaling up and 100% when scaling down, and the ratio is computed
again with them (a change of direction or one within tolerance keeps the count).

`normalize`: behaviours (`normalizeDesiredReplicasWithBehaviors`): the stabilization
windows (scale up to the smallest, down to the largest recommendation of the
window), then the scaling policies over the recent scale events (`Pods`: value per
period, `Percent`: value % of the replicas at the period's start; `selectPolicy`
Max, Min or Disabled), then min/max replicas, with the ScalingLimited reason.
Defaults are upstream's: scale up no window, max(4 pods, 100%) per 15 s; scale down a
300 s window, 100% per 15 s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

TOLERANCE = 0.1
DEFAULT_UP = {"stabilizationWindowSeconds": 0, "selectPolicy": "Max", "policies": [
    {"type": "Pods", "value": 4, "periodSeconds": 15},
    {"type": "Percent", "value": 100, "periodSeconds": 15}]}
DEFAULT_DOWN = {"stabilizationWindowSeconds": 300, "selectPolicy": "Max", "policies": [
    {"type": "Percent", "value": 100, "periodSeconds": 15}]}


@dataclass(frozen=True)
class PodCpu:
    usage_milli: int | None  # None: no metrics yet
    request_milli: int


@dataclass(frozen=True)
class Proposal:
    replicas: int
    utilization: int  # percent of request, over the pods with metrics
    usage_milli: int  # average per pod with metrics


def cpu_proposal(current: int, pods: list[PodCpu], target: int) -> Proposal:
    measured = [p for p in pods if p.usage_milli is not None]
    usage = sum(p.usage_milli or 0 for p in measured)
    requests = sum(p.request_milli for p in measured)
    utilization = int(usage * 100 / requests) if requests else 0
    average = usage // len(measured) if measured else 0
    ratio = utilization / target
    missing = [p for p in pods if p.usage_milli is None]
    if not measured or (abs(1 - ratio) <= TOLERANCE and not missing):
        return Proposal(current, utilization, average)
    if not missing:
        return Proposal(math.ceil(ratio * len(measured)), utilization, average)
    assumed = 0 if ratio > 1 else 100
    total_usage = usage + sum(p.request_milli * assumed // 100 for p in missing)
    total_requests = requests + sum(p.request_milli for p in missing)
    new_ratio = total_usage * 100 / total_requests / target
    if abs(1 - new_ratio) <= TOLERANCE or (new_ratio > 1) != (ratio > 1):
        return Proposal(current, utilization, average)
    replicas = math.ceil(new_ratio * len(pods))
    if (new_ratio < 1 and replicas > current) or (new_ratio > 1 and replicas < current):
        return Proposal(current, utilization, average)
    return Proposal(replicas, utilization, average)


@dataclass(frozen=True)
class Limited:
    replicas: int
    reason: str  # "" (within range), TooManyReplicas, TooFewReplicas, ScaleUpLimit, ...
    message: str


def _rules(behavior: dict[str, Any] | None, key: str) -> dict[str, Any]:
    default = DEFAULT_UP if key == "scaleUp" else DEFAULT_DOWN
    return {**default, **((behavior or {}).get(key) or {})}


def stabilized(recommendation: int, current: int, history: list[tuple[float, int]],
               behavior: dict[str, Any] | None, now: float) -> int:
    """Recommendation after the stabilization windows (`history`: (time, recommended))."""
    up = _rules(behavior, "scaleUp")["stabilizationWindowSeconds"]
    down = _rules(behavior, "scaleDown")["stabilizationWindowSeconds"]
    up_floor = min([r for t, r in history if t > now - up] + [recommendation])
    down_ceiling = max([r for t, r in history if t > now - down] + [recommendation])
    if recommendation > current:
        return max(current, up_floor)
    return min(current, down_ceiling)


def _period_limit(rules: dict[str, Any], current: int, events: list[tuple[float, int]],
                  now: float, up: bool) -> int | None:
    limits = []
    for policy in rules.get("policies") or []:
        changed = sum(d for t, d in events if t > now - policy["periodSeconds"]
                      and (d > 0) == up)
        start = current - changed
        if policy["type"] == "Pods":
            limits.append(start + policy["value"] if up else start - policy["value"])
        elif up:
            limits.append(math.ceil(start * (1 + policy["value"] / 100)))
        else:
            limits.append(math.ceil(start * (1 - policy["value"] / 100)))
    if not limits or rules.get("selectPolicy") == "Disabled":
        return None
    pick = max if (rules.get("selectPolicy") == "Max") == up else min
    return int(pick(limits))


def normalize(desired: int, current: int, spec: dict[str, Any],
              events: list[tuple[float, int]], now: float) -> Limited:
    """Policies and min/max replicas together, as `convertDesiredReplicasWithBehaviorRate`
    (`events`: (time, replica change) of past scales)."""
    behavior = spec.get("behavior")
    low, high = int(spec.get("minReplicas") or 1), int(spec["maxReplicas"])
    if desired > current:
        rules = _rules(behavior, "scaleUp")
        limit = current if rules.get("selectPolicy") == "Disabled" else \
            _period_limit(rules, current, events, now, True)
        limit = max(current, high if limit is None else limit)
        if high > limit:
            allowed = Limited(limit, "ScaleUpLimit", "the desired replica count is increasing "
                              "faster than the maximum scale rate")
        else:
            allowed = Limited(high, "TooManyReplicas", "the desired replica count is more "
                              "than the maximum replica count")
        if desired > allowed.replicas:
            return allowed
    elif desired < current:
        rules = _rules(behavior, "scaleDown")
        limit = current if rules.get("selectPolicy") == "Disabled" else \
            _period_limit(rules, current, events, now, False)
        limit = min(current, low if limit is None else limit)
        if low < limit:
            allowed = Limited(limit, "ScaleDownLimit", "the desired replica count is "
                              "decreasing faster than the maximum scale rate")
        else:
            allowed = Limited(low, "TooFewReplicas", "the desired replica count is less than "
                              "the minimum replica count")
        if desired < allowed.replicas:
            return allowed
    return Limited(desired, "", "the desired count is within the acceptable range")
