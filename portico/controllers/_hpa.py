"""The HorizontalPodAutoscaler controller (autoscaling/v2, CPU resource metrics).

Every `sync_seconds` (kube-controller-manager's --horizontal-pod-autoscaler-sync-period,
15 s) and on every change of an autoscaler, each one is reconciled: its target's scale
(a Deployment or ReplicaSet: `spec.replicas`, `spec.selector`), the target's pods (not
terminated), their CPU requests (pod spec) and usage (PodMetrics from
metrics.k8s.io, as the controller reads them from metrics-server), then
`_hpa_algorithm`: proposal, stabilization, policies, min/max.  A new count is written
to the target (`SuccessfulRescale` event: `New size: N; reason: cpu resource
utilization (percentage of request) above target`), and the status gets
currentReplicas, desiredReplicas, currentMetrics, lastScaleTime and the conditions
AbleToScale, ScalingActive and ScalingLimited with upstream's reasons and messages.
Recommendations and scale events are kept per autoscaler in memory, as upstream.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from portico.client import ApiError, Obj, PatchType, key_of
from portico.controllers._controller import ControllerContext, QueuedController
from portico.controllers._hpa_algorithm import PodCpu, cpu_proposal, normalize, stabilized
from portico.controllers._pods import (
    involved,
    is_terminated,
    labels_of,
    meta,
    now_utc,
    rfc3339,
    with_condition,
)
from portico.model.kinds import (
    DEPLOYMENT,
    HORIZONTAL_POD_AUTOSCALER,
    POD,
    POD_METRICS,
    REPLICA_SET,
    Kind,
)
from portico.model.quantity import milli_value
from portico.model.selectors import label_selector_matches
from portico.model.vocabulary import EventType

COMPONENT = "horizontal-pod-autoscaler"
TARGETS = {"Deployment": DEPLOYMENT, "ReplicaSet": REPLICA_SET}
REASON = "cpu resource utilization (percentage of request)"


@dataclass
class History:
    recommendations: list[tuple[float, int]] = field(default_factory=list)
    scales: list[tuple[float, int]] = field(default_factory=list)


def _cpu_target(hpa: Obj) -> int | None:
    for metric in (hpa.get("spec") or {}).get("metrics") or []:
        target = (metric.get("resource") or {}).get("target") or {}
        if metric.get("type") == "Resource" and (metric.get("resource") or {}).get(
                "name") == "cpu" and target.get("type") == "Utilization":
            return int(target["averageUtilization"])
    return None


def _pod_cpu(pod: Obj, metrics: Obj | None) -> PodCpu | str:
    """The pod's CPU, or the error message for a container without a CPU request."""
    request = 0
    for container in (pod.get("spec") or {}).get("containers") or []:
        cpu = ((container.get("resources") or {}).get("requests") or {}).get("cpu")
        if cpu is None:
            return (f"missing request for cpu in container {container.get('name')} of Pod "
                    f"{meta(pod).get('name')}")
        request += milli_value(cpu)
    if metrics is None:
        return PodCpu(None, request)
    usage = sum(milli_value(c["usage"]["cpu"]) for c in metrics.get("containers") or [])
    return PodCpu(usage, request)


def _cond(kind: str, status: bool, reason: str, message: str) -> Obj:
    return {"type": kind, "status": "True" if status else "False", "reason": reason,
            "message": message, "lastTransitionTime": rfc3339(now_utc())}


class HorizontalPodAutoscalerController(QueuedController):
    def __init__(self, ctx: ControllerContext, sync_seconds: float) -> None:
        super().__init__(ctx, "horizontalpodautoscaler", workers=1, component=COMPONENT)
        self.sync_seconds = sync_seconds
        self.hpas = self.watch(HORIZONTAL_POD_AUTOSCALER, self.enqueue)
        self.pods = ctx.informers.informer(POD)
        self.metrics = ctx.informers.informer(POD_METRICS)
        self.history: dict[str, History] = {}

    async def sync(self, key: str) -> float | None:
        hpa = self.hpas.get(key)
        if hpa is None:
            self.history.pop(key, None)
            return None
        try:
            await self._reconcile(key, hpa)
        except ApiError as error:
            if error.status.code not in (404, 409):
                raise
        return self.sync_seconds

    async def _reconcile(self, key: str, hpa: Obj) -> None:
        spec, namespace = hpa.get("spec") or {}, meta(hpa).get("namespace")
        ref = spec.get("scaleTargetRef") or {}
        kind = TARGETS.get(ref.get("kind", ""))
        if kind is None:
            await self._status(hpa, 0, 0, None, [_cond(
                "AbleToScale", False, "FailedGetScale",
                f"the HPA controller was unable to get the target's current scale: no matches "
                f"for kind \"{ref.get('kind')}\" in group \"{ref.get('apiVersion', '')}\"")])
            return
        target = await self.client.get(kind, ref["name"], namespace=namespace)
        current = int((target.get("spec") or {}).get("replicas") or 0)
        selector = (target.get("spec") or {}).get("selector") or {}
        pods = [p for p in self.pods.list(namespace) if not is_terminated(p)
                and label_selector_matches(selector, labels_of(p))]
        cpus = [_pod_cpu(p, self.metrics.get(key_of(p))) for p in pods]
        target_cpu = _cpu_target(hpa)
        errors = [c for c in cpus if isinstance(c, str)]
        if target_cpu is None or errors or current == 0:
            message = ("failed to get cpu utilization: " + errors[0]) if errors else \
                "the HPA controller supports only cpu utilization targets" if current else \
                "scaling is disabled since the replica count of the target is zero"
            reason = "FailedGetResourceMetric" if errors else "ScalingDisabled"
            await self._status(hpa, current, current, None, [
                _cond("AbleToScale", True, "SucceededGetScale",
                      "the HPA controller was able to get the target's current scale"),
                _cond("ScalingActive", False, reason, message)])
            if errors:
                self.events.emit(involved(HORIZONTAL_POD_AUTOSCALER, hpa), EventType.WARNING,
                                 "FailedGetResourceMetric", message)
            return
        await self._scale(key, hpa, kind, current,
                          [c for c in cpus if not isinstance(c, str)], target_cpu)

    async def _scale(self, key: str, hpa: Obj, kind: Kind, current: int, cpus: list[PodCpu],
                     target_cpu: int) -> None:
        spec, now = hpa.get("spec") or {}, time.monotonic()
        proposal = cpu_proposal(current, cpus, target_cpu)
        history = self.history.setdefault(key, History())
        down_window = float(((spec.get("behavior") or {}).get("scaleDown") or {}).get(
            "stabilizationWindowSeconds", 300))
        history.recommendations = [(t, r) for t, r in history.recommendations
                                   if t > now - max(down_window, 600)]
        stable = stabilized(proposal.replicas, current, history.recommendations,
                            spec.get("behavior"), now)
        history.recommendations.append((now, proposal.replicas))
        limited = normalize(stable, current, spec, history.scales, now)
        conditions = [_cond("ScalingActive", True, "ValidMetricFound",
                            f"the HPA was able to successfully calculate a replica count from "
                            f"{REASON}"),
                      _cond("ScalingLimited", bool(limited.reason),
                            limited.reason or "DesiredWithinRange", limited.message)]
        scaled_at = None
        if limited.replicas != current:
            await self.client.patch(kind, spec["scaleTargetRef"]["name"],
                                    {"spec": {"replicas": limited.replicas}},
                                    namespace=meta(hpa).get("namespace"),
                                    patch_type=PatchType.MERGE)
            history.scales.append((now, limited.replicas - current))
            direction = "above" if limited.replicas > current else "below"
            self.events.emit(involved(HORIZONTAL_POD_AUTOSCALER, hpa), EventType.NORMAL,
                             "SuccessfulRescale",
                             f"New size: {limited.replicas}; reason: {REASON} {direction} target")
            conditions.insert(0, _cond("AbleToScale", True, "SucceededRescale",
                                       "the HPA controller was able to update the target scale "
                                       f"to {limited.replicas}"))
            scaled_at = rfc3339(now_utc())
        else:
            conditions.insert(0, _cond("AbleToScale", True, "ReadyForNewScale",
                                       "recommended size matches current size"))
        metric = {"type": "Resource", "resource": {"name": "cpu", "current": {
            "averageUtilization": proposal.utilization,
            "averageValue": f"{proposal.usage_milli}m"}}}
        await self._status(hpa, current, limited.replicas, metric, conditions, scaled_at)

    async def _status(self, hpa: Obj, current: int, desired: int, metric: Obj | None,
                      conditions: list[Obj], scaled_at: str | None = None) -> None:
        previous = hpa.get("status") or {}
        merged = previous.get("conditions") or []
        for cond in conditions:
            merged = with_condition(merged, cond)
        status: Obj = {"currentReplicas": current, "desiredReplicas": desired,
                       "conditions": merged, "currentMetrics": [metric] if metric else None}
        if scaled_at:
            status["lastScaleTime"] = scaled_at
        await self.client.patch(HORIZONTAL_POD_AUTOSCALER.status, meta(hpa)["name"],
                                {"status": status}, namespace=meta(hpa).get("namespace"),
                                patch_type=PatchType.MERGE)
