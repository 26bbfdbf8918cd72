"""What one StatefulSet sync does, as `stateful_set_control.go` decides it; no I/O.

`plan(view)` walks the pods by ordinal and returns the pods to create (by ordinal)
and to delete, in the order the controller must act:
1. every ordinal in `[start, start+replicas)` needs a pod: a missing one is
   created, a Failed one deleted (and recreated by a later sync). With
   `OrderedReady` the walk stops at the first pod it creates, deletes, or finds
   not yet Running and Ready, so pod N+1 starts only once pod N is ready;
   `Parallel` acts on every ordinal at once.
2. pods beyond the range are condemned, highest ordinal first; `OrderedReady`
   deletes one at a time and only once every pod in the range is ready.
3. RollingUpdate: once every pod in the range exists and is ready, the highest
   ordinal at or above the partition whose `controller-revision-hash` is not the
   update revision is deleted (one at a time); it comes back at the update
   revision. `OnDelete` leaves that to the user.
A pod created for an ordinal below the partition gets the current revision's
template, any other the update revision's (`newVersionedStatefulSetPod`).

`status(view)` is `updateStatefulSetStatus` with `completeRollingUpdate`: once every
pod is updated and ready, the current revision becomes the update revision.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field

from portico.controllers._pods import Obj, is_available, is_ready, is_terminating, meta, phase
from portico.model.vocabulary import PodPhase

REVISION_LABEL = "controller-revision-hash"
POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
PARALLEL = "Parallel"
ROLLING_UPDATE = "RollingUpdate"


@dataclass(frozen=True)
class View:
    """One StatefulSet, its pods by ordinal and its two revision names."""

    sts: Obj
    pods: dict[int, Obj]
    current_revision: str
    update_revision: str
    now: datetime.datetime = field(
        default_factory=lambda: datetime.datetime.now(datetime.UTC))

    @property
    def spec(self) -> Obj:
        return self.sts.get("spec") or {}

    @property
    def start(self) -> int:
        return int((self.spec.get("ordinals") or {}).get("start") or 0)

    @property
    def replicas(self) -> int:
        return int(self.spec.get("replicas", 1))

    @property
    def ordered(self) -> bool:
        return self.spec.get("podManagementPolicy") != PARALLEL

    @property
    def partition(self) -> int:
        strategy = self.spec.get("updateStrategy") or {}
        return int((strategy.get("rollingUpdate") or {}).get("partition") or 0)

    def in_range(self) -> range:
        return range(self.start, self.start + self.replicas)


@dataclass
class Plan:
    create: list[int] = field(default_factory=list)
    delete: list[Obj] = field(default_factory=list)


def ordinal_of(sts_name: str, pod_name: str) -> int | None:
    match = re.fullmatch(rf"{re.escape(sts_name)}-(\d+)", pod_name)
    return int(match.group(1)) if match else None


def revision_of(pod: Obj) -> str:
    return str((meta(pod).get("labels") or {}).get(REVISION_LABEL, ""))


def healthy(pod: Obj) -> bool:
    return phase(pod) == PodPhase.RUNNING and is_ready(pod) and not is_terminating(pod)


def revision_for(view: View, ordinal: int) -> str:
    """The revision a new pod of `ordinal` is made from."""
    strategy = (view.spec.get("updateStrategy") or {}).get("type")
    if strategy == ROLLING_UPDATE and ordinal < view.start + view.partition:
        return view.current_revision
    return view.update_revision


def _fill(view: View, result: Plan) -> bool:
    """Step 1; True when every pod of the range is there, Running and Ready."""
    all_healthy = True
    for ordinal in view.in_range():
        pod = view.pods.get(ordinal)
        if pod is None:
            result.create.append(ordinal)
        elif phase(pod) == PodPhase.FAILED and not is_terminating(pod):
            result.delete.append(pod)
        elif healthy(pod):
            continue
        all_healthy = False
        if view.ordered:
            break
    return all_healthy


def _condemn(view: View, result: Plan, all_healthy: bool) -> bool:
    """Step 2; True when no condemned pod is left."""
    condemned = sorted((o for o in view.pods if o not in view.in_range()), reverse=True)
    for ordinal in condemned:
        pod = view.pods[ordinal]
        if view.ordered and (not all_healthy or is_terminating(pod)):
            return False
        if not is_terminating(pod):
            result.delete.append(pod)
        if view.ordered:
            return False
    return not condemned


def _roll(view: View, result: Plan) -> None:
    """Step 3: replace the highest out-of-date pod at or above the partition."""
    if (view.spec.get("updateStrategy") or {}).get("type") != ROLLING_UPDATE:
        return
    for ordinal in sorted(view.in_range(), reverse=True):
        if ordinal < view.start + view.partition:
            return
        pod = view.pods.get(ordinal)
        if pod is None or not healthy(pod):
            return
        if revision_of(pod) != view.update_revision:
            result.delete.append(pod)
            return


def plan(view: View) -> Plan:
    result = Plan()
    all_healthy = _fill(view, result)
    if not _condemn(view, result, all_healthy) or not all_healthy:
        return result
    _roll(view, result)
    return result


def status(view: View, observed_generation: int) -> Obj:
    pods = [p for p in view.pods.values() if not is_terminating(p)]
    min_ready = int(view.spec.get("minReadySeconds") or 0)
    ready = [p for p in pods if healthy(p)]
    current = sum(1 for p in pods if revision_of(p) == view.current_revision)
    updated = sum(1 for p in pods if revision_of(p) == view.update_revision)
    current_revision = view.current_revision
    rolling = (view.spec.get("updateStrategy") or {}).get("type") == ROLLING_UPDATE
    if rolling and updated == len(pods) == len(ready) == view.replicas:
        current_revision, current = view.update_revision, updated
    return {
        "observedGeneration": observed_generation,
        "replicas": len(pods),
        "readyReplicas": len(ready),
        "currentReplicas": current,
        "updatedReplicas": updated,
        "availableReplicas": sum(1 for p in ready if is_available(p, min_ready, view.now)),
        "currentRevision": current_revision,
        "updateRevision": view.update_revision,
        "collisionCount": int((view.sts.get("status") or {}).get("collisionCount") or 0),
    }
