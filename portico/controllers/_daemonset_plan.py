"""What one DaemonSet sync does, as `pkg/controller/daemon` decides it; no I/O.

A node should run the daemon pod when the pod (with the DaemonSet default
tolerations added, see `daemon_pod_spec`) tolerates every NoSchedule/NoExecute
taint of the node and matches its nodeSelector and required node affinity
(`NodeShouldRunDaemonPod`). Each daemon pod is pinned to its node by a required
node affinity term `matchFields metadata.name In [node]`
(`ReplaceDaemonSetPodNodeNameNodeAffinity`), so the scheduler binds it there.

`plan(view)`: a pod for each eligible node that has none; Failed pods deleted (a
later sync replaces them); extra pods on one node and pods on nodes that should not
run one deleted. RollingUpdate (`rollingUpdate`): with maxSurge 0, old pods are
deleted while fewer than maxUnavailable nodes lack an available pod (old
unavailable pods first); with maxSurge > 0 a new pod is created beside an old one
on up to maxSurge nodes at a time, and the old pod goes once the new one is
available. Both are scaled from `desiredNumberScheduled`, rounding up.
"""

from __future__ import annotations

import copy
import datetime
from dataclasses import dataclass, field

from portico.controllers._placement import matches_node, untolerated_taint
from portico.controllers._pods import Obj, is_available, is_terminating, meta, parse_time, phase
from portico.controllers._rollout import scaled_value
from portico.controllers._statefulset_plan import REVISION_LABEL, revision_of
from portico.model.vocabulary import PodPhase

NAME_FIELD = "metadata.name"
_DEFAULT_TOLERATIONS = (
    ("node.kubernetes.io/not-ready", "NoExecute"),
    ("node.kubernetes.io/unreachable", "NoExecute"),
    ("node.kubernetes.io/disk-pressure", "NoSchedule"),
    ("node.kubernetes.io/memory-pressure", "NoSchedule"),
    ("node.kubernetes.io/pid-pressure", "NoSchedule"),
    ("node.kubernetes.io/unschedulable", "NoSchedule"),
)
_HOST_NETWORK_TOLERATION = ("node.kubernetes.io/network-unavailable", "NoSchedule")


def daemon_pod_spec(template_spec: Obj) -> Obj:
    """`AddOrUpdateDaemonPodTolerations`: the template's spec plus the default tolerations."""
    spec = copy.deepcopy(template_spec)
    tolerations = list(spec.get("tolerations") or [])
    wanted = list(_DEFAULT_TOLERATIONS)
    if spec.get("hostNetwork"):
        wanted.append(_HOST_NETWORK_TOLERATION)
    for key, effect in wanted:
        if not any(t.get("key") == key and t.get("effect") == effect for t in tolerations):
            tolerations.append({"key": key, "operator": "Exists", "effect": effect})
    spec["tolerations"] = tolerations
    return spec


def pin_to_node(spec: Obj, node: str) -> Obj:
    """The spec with its required node affinity replaced by `metadata.name In [node]`."""
    pinned = copy.deepcopy(spec)
    affinity = pinned.setdefault("affinity", {}).setdefault("nodeAffinity", {})
    affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": [
        {"matchFields": [{"key": NAME_FIELD, "operator": "In", "values": [node]}]}]}
    return pinned


def target_node(pod: Obj) -> str:
    """`GetTargetNodeName`: spec.nodeName, else the node the affinity pins it to."""
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return str(spec["nodeName"])
    required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    for term in required.get("nodeSelectorTerms") or []:
        for expr in term.get("matchFields") or []:
            if expr.get("key") == NAME_FIELD and expr.get("values"):
                return str(expr["values"][0])
    return ""


def should_run(ds: Obj, node: Obj) -> bool:
    template = (ds.get("spec") or {}).get("template") or {}
    pod = {"spec": daemon_pod_spec(template.get("spec") or {})}
    return untolerated_taint(pod, node) is None and matches_node(pod, node)


@dataclass(frozen=True)
class View:
    ds: Obj
    nodes: list[Obj]
    pods: list[Obj]  # the DaemonSet's pods, not being deleted
    update_hash: str
    now: datetime.datetime

    @property
    def min_ready(self) -> int:
        return int((self.ds.get("spec") or {}).get("minReadySeconds") or 0)

    def available(self, pod: Obj) -> bool:
        return phase(pod) == PodPhase.RUNNING and is_available(pod, self.min_ready, self.now)

    def by_node(self) -> dict[str, list[Obj]]:
        out: dict[str, list[Obj]] = {str(meta(n)["name"]): [] for n in self.nodes}
        for pod in self.pods:
            out.setdefault(target_node(pod), []).append(pod)
        return out

    def eligible(self) -> list[str]:
        return [str(meta(n)["name"]) for n in self.nodes if should_run(self.ds, n)]


@dataclass
class Plan:
    create: list[str] = field(default_factory=list)  # node names
    delete: list[Obj] = field(default_factory=list)


def _oldest_first(pods: list[Obj]) -> list[Obj]:
    return sorted(pods, key=lambda p: (parse_time(meta(p).get("creationTimestamp"))
                                       or datetime.datetime.max.replace(tzinfo=datetime.UTC),
                                       meta(p).get("name", "")))


def _budgets(view: View, desired: int) -> tuple[int, int]:
    rolling = ((view.ds.get("spec") or {}).get("updateStrategy") or {}).get("rollingUpdate") or {}
    surge = scaled_value(rolling.get("maxSurge", 0), desired, True)
    unavailable = scaled_value(rolling.get("maxUnavailable", 1), desired, True)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def _manage(view: View, result: Plan) -> dict[str, Obj]:
    """Create, delete extras and strays; the one running pod per eligible node."""
    eligible = set(view.eligible())
    kept: dict[str, Obj] = {}
    for node, pods in view.by_node().items():
        if node not in eligible:
            result.delete.extend(pods)
            continue
        failed = [p for p in pods if phase(p) == PodPhase.FAILED]
        result.delete.extend(failed)
        alive = _oldest_first([p for p in pods if p not in failed])
        if not alive:
            result.create.append(node)
            continue
        new = [p for p in alive if revision_of(p) == view.update_hash]
        old = [p for p in alive if p not in new]
        if new and old:  # a surge in progress: settled in _roll
            kept[node] = old[0]
            result.delete.extend(new[1:] + old[1:])
            continue
        kept[node] = alive[0]
        result.delete.extend(alive[1:])
    return kept


def _roll(view: View, result: Plan, kept: dict[str, Obj]) -> None:
    by_node = view.by_node()
    surge, max_unavailable = _budgets(view, len(view.eligible()))
    old = {n: p for n, p in kept.items() if revision_of(p) != view.update_hash}
    if surge > 0:
        surging = 0
        for node, pod in sorted(old.items()):
            new = [p for p in by_node.get(node, []) if revision_of(p) == view.update_hash]
            if new:
                surging += 1
                if view.available(new[0]):
                    result.delete.append(pod)
            elif surging < surge or not view.available(pod):
                surging += 1
                result.create.append(node)
        return
    unavailable = sum(1 for n in view.eligible() if n not in kept or not view.available(kept[n]))
    for pod in sorted(old.values(), key=view.available):
        if view.available(pod):
            if unavailable >= max_unavailable:
                return
            unavailable += 1
        result.delete.append(pod)


def plan(view: View) -> Plan:
    result = Plan()
    kept = _manage(view, result)
    if ((view.ds.get("spec") or {}).get("updateStrategy") or {}).get("type") == "RollingUpdate":
        _roll(view, result, kept)
    return result


def status(view: View, observed_generation: int) -> Obj:
    eligible = set(view.eligible())
    by_node = {n: [p for p in pods if not is_terminating(p)] for n, pods in view.by_node().items()}
    scheduled = {n for n, pods in by_node.items() if pods}
    first = {n: _oldest_first(by_node[n])[0] for n in scheduled & eligible}
    ready = [p for p in first.values() if phase(p) == PodPhase.RUNNING and is_available(p, 0,
                                                                                      view.now)]
    available = [p for p in first.values() if view.available(p)]
    updated = {n for n in scheduled & eligible
               if any(revision_of(p) == view.update_hash for p in by_node[n])}
    return {
        "observedGeneration": observed_generation,
        "desiredNumberScheduled": len(eligible),
        "currentNumberScheduled": len(scheduled & eligible),
        "numberMisscheduled": len(scheduled - eligible),
        "numberReady": len(ready),
        "updatedNumberScheduled": len(updated),
        "numberAvailable": len(available),
        "numberUnavailable": len(eligible) - len(available),
    }


__all__ = ["REVISION_LABEL", "Plan", "View", "daemon_pod_spec", "pin_to_node", "plan",
           "should_run", "status", "target_node"]
