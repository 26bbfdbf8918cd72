"""The scheduler (kube-scheduler's default profile, reduced to what Portico needs).

Pure part (`_placement.schedule(pod, nodes, pods, namespaces)`): the filters
(unschedulable, taints, Ready, node selector/affinity, topology spread constraints,
inter-pod affinity and anti-affinity, existing pods' anti-affinity) and the scores
(soft topology spread, preferred inter-pod affinity, then fewest pods, then name);
see that module's docstring. When no node fits, the message is kube's, e.g.
`0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules.`

Controller part: pods, nodes and namespaces come from informers; the queue has one
worker so placements are decided one at a time against the bound, non-terminated pods,
including the ones this scheduler just bound (written through to the pod cache, like
the scheduler's "assumed" pods). Pending pods are requeued when a node changes, when a
bound pod appears, goes away, terminates, starts terminating, moves or changes its
labels, and when a namespace's labels change (kube's queueing hints, coarsened).
Binding runs in a task of its own (kube's binding cycle), the pod assumed on its node
meanwhile; a failed binding drops the assumption and queues the pod again. It uses the
`pods/binding` subresource, which also sets PodScheduled=True (as kube's binding
storage does; it answers 201 with a Status). Pods with PersistentVolumeClaims go through
`_volume_binding` first (missing or unbound-immediate claims: unschedulable; bound
claims: their PV's node affinity; WaitForFirstConsumer claims: the chosen node is
written into them and the binding waits until they are bound). Then a `Scheduled`
event (in the background); unschedulable pods get PodScheduled=False `Unschedulable`
and a `FailedScheduling` event (once per distinct message).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from portico.client import Obj, PatchType, key_of, split_key
from portico.controllers._controller import ControllerContext, QueuedController
from portico.controllers._persistentvolume import is_bound
from portico.controllers._placement import Decision, schedule
from portico.controllers._pods import (
    condition,
    involved,
    is_terminated,
    is_terminating,
    labels_of,
    meta,
    now_utc,
    rfc3339,
)
from portico.controllers._volume_binding import SELECTED_NODE, ClaimPlan, claims_of
from portico.controllers._workload import patch_cached
from portico.model.kinds import (
    NAMESPACE,
    NODE,
    PERSISTENT_VOLUME,
    PERSISTENT_VOLUME_CLAIM,
    POD,
    POD_BINDING,
    STORAGE_CLASS,
)
from portico.model.vocabulary import ConditionStatus, EventType

__all__ = ["SCHEDULER_NAME", "Decision", "Scheduler", "schedule"]

log = logging.getLogger("portico.controllers.scheduler")

SCHEDULER_NAME = "default-scheduler"
BIND_RETRY_SECONDS = 1.0
PROVISION_TIMEOUT_SECONDS = 60.0


def needs_scheduling(pod: Obj) -> bool:
    spec = pod.get("spec") or {}
    return (not spec.get("nodeName") and not is_terminating(pod) and not is_terminated(pod)
            and (spec.get("schedulerName") or SCHEDULER_NAME) == SCHEDULER_NAME)


def _placement_view(pod: Obj | None) -> tuple[Any, ...] | None:
    """What of a bound pod matters to other pods' placement (None: not bound or done)."""
    if pod is None or is_terminated(pod):
        return None
    node = (pod.get("spec") or {}).get("nodeName")
    if not node:
        return None
    return node, meta(pod).get("namespace"), labels_of(pod), is_terminating(pod)


class Scheduler(QueuedController):
    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx, "scheduler", workers=1, component=SCHEDULER_NAME)
        self.pods = self.watch(POD, self._on_pod)
        self.nodes = self.watch(NODE, self._on_room)
        self.namespaces = self.watch(NAMESPACE, self._on_namespace)
        self.claims = self.watch(PERSISTENT_VOLUME_CLAIM, self._on_room)
        self.volumes = self.watch(PERSISTENT_VOLUME, self._on_room)
        self.classes = self.watch(STORAGE_CLASS, self._on_room)
        self._binding: set[asyncio.Task[None]] = set()

    def _on_pod(self, previous: Obj | None, current: Obj | None) -> None:
        if current is not None and needs_scheduling(current):
            self.queue.add(key_of(current))
        if _placement_view(previous) != _placement_view(current):
            self._requeue_pending()  # room, spreading or (anti-)affinity changed

    def _on_room(self, previous: Obj | None, current: Obj | None) -> None:
        """A node or storage changed: a pending pod may fit now."""
        self._requeue_pending()

    def _on_namespace(self, previous: Obj | None, current: Obj | None) -> None:
        if labels_of(previous or {}) != labels_of(current or {}):
            self._requeue_pending()  # namespaceSelector of affinity terms

    def _requeue_pending(self) -> None:
        for pod in self.pods.list():
            if needs_scheduling(pod):
                self.queue.add(key_of(pod))

    def bound_pods(self) -> list[Obj]:
        """Pods on nodes that still count: not Succeeded/Failed (being deleted counts)."""
        return [p for p in self.pods.list()
                if (p.get("spec") or {}).get("nodeName") and not is_terminated(p)]

    def namespace_labels(self) -> dict[str, dict[str, str]]:
        return {meta(ns).get("name") or "": labels_of(ns) for ns in self.namespaces.list()}

    def _claim_plan(self, pod: Obj) -> ClaimPlan:
        return claims_of(pod, {key_of(c): c for c in self.claims.list()},
                         {meta(v).get("name") or "": v for v in self.volumes.list()},
                         {meta(c).get("name") or "": c for c in self.classes.list()})

    async def sync(self, key: str) -> float | None:
        pod = self.pods.get(key)
        if pod is None or not needs_scheduling(pod) or not self.nodes.synced:
            return None
        plan = self._claim_plan(pod)
        if plan.error:
            await self._unschedulable(pod, f"0/{len(self.nodes.list())} nodes are available: "
                                           f"{plan.error}.")
            return None
        decision = schedule(pod, self.nodes.list(), self.bound_pods(),
                            self.namespace_labels(), plan.node_reason)
        if decision.node is None:
            await self._unschedulable(pod, decision.message)
            return None
        # kube-scheduler's split: the decision is taken one pod at a time against the
        # cache (with this pod assumed on its node), the binding runs on its own
        self.pods.speculate(dict(pod, spec=dict(pod.get("spec") or {},
                                                nodeName=decision.node)))
        task = asyncio.create_task(self._bind(pod, decision.node, plan.to_provision))
        self._binding.add(task)
        task.add_done_callback(self._binding.discard)
        return None

    async def _provision_on(self, claims: list[Obj], node: str) -> None:
        """kube's VolumeBinding PreBind: the node into each claim's selected-node
        annotation, then wait until the PV controller bound them."""
        for claim in claims:
            namespace, name = split_key(key_of(claim))
            await self.client.patch(PERSISTENT_VOLUME_CLAIM, name,
                                    {"metadata": {"annotations": {SELECTED_NODE: node}}},
                                    namespace=namespace, patch_type=PatchType.MERGE)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + PROVISION_TIMEOUT_SECONDS
        while not all(is_bound(self.claims.get(key_of(c)) or {}) for c in claims):
            if loop.time() > deadline:
                raise TimeoutError("timed out waiting for the volumes to be bound")
            await asyncio.sleep(0.1)

    async def _bind(self, pod: Obj, node: str, claims: list[Obj]) -> None:
        """`pods/binding` (which also sets PodScheduled=True), then the Scheduled event;
        on failure the assumption is dropped and the pod queued again."""
        namespace, name = split_key(key_of(pod))
        try:
            await self._provision_on(claims, node)
            binding = {"apiVersion": "v1", "kind": "Binding",
                       "metadata": {"name": name, "namespace": namespace},
                       "target": {"apiVersion": "v1", "kind": "Node", "name": node}}
            await self.client.create(POD_BINDING, binding, namespace=namespace, name=name)
        except Exception as error:  # noqa: BLE001 - any failure: forget and retry
            log.warning("binding %s/%s to %s failed: %s", namespace, name, node, error)
            self.pods.forget_speculation(pod)
            self.queue.add_after(key_of(pod), BIND_RETRY_SECONDS)
            return
        self.events.emit(involved(POD, pod), EventType.NORMAL, "Scheduled",
                         f"Successfully assigned {namespace}/{name} to {node}")
        log.info("bound %s/%s to %s", namespace, name, node)

    async def _unschedulable(self, pod: Obj, message: str) -> None:
        current = condition(pod, "PodScheduled") or {}
        if current.get("status") == ConditionStatus.FALSE and current.get("message") == message:
            return
        await self._set_scheduled(pod, ConditionStatus.FALSE, "Unschedulable", message)
        await self.events.record(involved(POD, pod), EventType.WARNING, "FailedScheduling", message)

    async def _set_scheduled(self, pod: Obj, status: ConditionStatus, reason: str | None,
                             message: str | None) -> None:
        cond: Obj = {"type": "PodScheduled", "status": str(status), "lastProbeTime": None,
                     "lastTransitionTime": rfc3339(now_utc())}
        if reason:
            cond.update(reason=reason, message=message)
        await patch_cached(self.client, POD.status, self.pods, pod,
                           {"status": {"conditions": [cond]}}, PatchType.STRATEGIC)
