"""The node lifecycle controller: nodes that stop heartbeating go NotReady (Unknown).

Heartbeats are the node's Lease (`kube-node-lease/<node>`, `spec.renewTime`) and
its Ready condition's lastHeartbeatTime. As upstream, staleness is measured on
this controller's own clock: the time at which it last *saw* either value change
(so clock skew between nodes does not matter). A node first seen counts as just
heard from.

Every `monitor period` (grace/8) each node is enqueued. A sync of a node:
- when silent for longer than the grace period (40 s by default): its conditions
  go Unknown (`NodeStatusUnknown`, "Kubelet stopped posting node status.") and its
  pods' Ready condition goes False (`MarkPodsNotReady`), so EndpointSlices drop them;
- taints follow (TaintNodesByCondition + taint-based eviction's taints): silent ->
  `node.kubernetes.io/unreachable` NoSchedule and NoExecute; Ready False ->
  `node.kubernetes.io/not-ready` likewise; otherwise neither. So once the Lease is
  renewed the taints go at once, and Ready comes back when the kubelet posts it.
- pods on a node with NoExecute taints are evicted as the taint eviction
  controller does (`_taint_eviction`): at once without a matching toleration,
  else once the shortest tolerationSeconds has passed (the sync is requeued then).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from enum import StrEnum

from portico.client import ApiError, Obj, PatchType
from portico.controllers._controller import ControllerContext, QueuedController
from portico.controllers._pods import condition, meta, now_utc, rfc3339
from portico.controllers._taint_eviction import (
    DISRUPTION_TARGET,
    EVENT_REASON,
    eviction_delay,
    no_execute_taints,
)
from portico.controllers._workload import patch_cached
from portico.model.kinds import LEASE, NODE, POD, Kind
from portico.model.vocabulary import ConditionStatus, EventType

log = logging.getLogger("portico.controllers.nodelifecycle")

DEFAULT_GRACE_PERIOD = 40.0
LEASE_NAMESPACE = "kube-node-lease"
NODE_CONDITIONS = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")


class TaintKey(StrEnum):
    UNREACHABLE = "node.kubernetes.io/unreachable"
    NOT_READY = "node.kubernetes.io/not-ready"


def desired_taints(node: Obj, silent: bool, now: str) -> list[Obj]:
    """The node's taints with the unreachable/not-ready ones set as its state requires."""
    ready = (condition(node, "Ready") or {}).get("status")
    key = TaintKey.UNREACHABLE if silent else (
        TaintKey.NOT_READY if ready == ConditionStatus.FALSE else None)
    current = list((node.get("spec") or {}).get("taints") or [])
    kept = [t for t in current if t.get("key") not in set(TaintKey)]
    if key is None:
        return kept
    existing = {(t.get("key"), t.get("effect")): t for t in current}
    wanted = [existing.get((str(key), "NoSchedule"), {"key": str(key), "effect": "NoSchedule"}),
              existing.get((str(key), "NoExecute"),
                           {"key": str(key), "effect": "NoExecute", "timeAdded": now})]
    return kept + wanted


def unknown_conditions(node: Obj, now: str) -> list[Obj]:
    """Every node condition set to Unknown, keeping its lastHeartbeatTime."""
    current = {c.get("type"): c for c in (node.get("status") or {}).get("conditions") or []}
    out = [dict(c) for t, c in current.items() if t not in NODE_CONDITIONS]
    for cond_type in NODE_CONDITIONS:
        cond = dict(current.get(cond_type) or {"type": cond_type})
        if cond_type not in current:
            cond.update(reason="NodeStatusNeverUpdated",
                        message="Kubelet never posted node status.")
        else:
            cond.update(reason="NodeStatusUnknown", message="Kubelet stopped posting node status.")
        if cond.get("status") != ConditionStatus.UNKNOWN:
            cond["lastTransitionTime"] = now
        cond["status"] = str(ConditionStatus.UNKNOWN)
        cond.setdefault("lastHeartbeatTime", None)
        out.append(cond)
    return out


class NodeLifecycleController(QueuedController):
    def __init__(self, ctx: ControllerContext,
                 grace_period: float = DEFAULT_GRACE_PERIOD) -> None:
        super().__init__(ctx, "node-lifecycle-controller", workers=2,
                         component="taint-eviction-controller")
        self.grace_period = grace_period
        self.nodes = self.watch(NODE, self.enqueue)
        self.leases = self.watch(LEASE, self._on_lease, LEASE_NAMESPACE)
        self.pods = ctx.informers.informer(POD)
        self._heard: dict[str, tuple[object, float]] = {}  # node -> (heartbeat, seen at)
        self._monitor: asyncio.Task[None] | None = None

    def _on_lease(self, previous: Obj | None, current: Obj | None) -> None:
        """A node's Lease is named after it: its renewal is news of the node."""
        self.queue.add(meta(current or previous or {}).get("name", ""))

    def start(self) -> None:
        """The queue, and the monitor that checks every node's heartbeat."""
        super().start()
        self._monitor = asyncio.create_task(self._tick(), name="node-monitor")

    async def stop(self) -> None:
        if self._monitor:
            self._monitor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._monitor
        await super().stop()

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(max(self.grace_period / 8, 0.05))
            for key in self.nodes.list_keys():
                self.queue.add(key)

    def silent(self, node: Obj) -> bool:
        name = meta(node)["name"]
        lease = self.leases.get(f"{LEASE_NAMESPACE}/{name}") or {}
        beat = ((lease.get("spec") or {}).get("renewTime"),
                (condition(node, "Ready") or {}).get("lastHeartbeatTime"))
        seen = self._heard.get(name)
        now = time.monotonic()
        if seen is None or seen[0] != beat:
            self._heard[name] = (beat, now)
            return False
        return now - seen[1] > self.grace_period

    async def sync(self, key: str) -> float | None:
        node = self.nodes.get(key)
        if node is None:
            self._heard.pop(key, None)
            return None
        silent = self.silent(node)
        now = rfc3339(now_utc())
        if silent and (condition(node, "Ready") or {}).get("status") != ConditionStatus.UNKNOWN:
            node = await self._patch_node(NODE.status, key, {"status": {
                "conditions": unknown_conditions(node, now)}})
            log.info("node %s stopped posting status: Ready=Unknown", key)
        taints = desired_taints(node, silent, now)
        if taints != list((node.get("spec") or {}).get("taints") or []):
            node = await self._patch_node(NODE, key, {"spec": {"taints": taints or None}})
        if silent:
            await self._mark_pods_not_ready(key, now)
        return await self._evict_pods(key, no_execute_taints(node))

    async def _evict_pods(self, node_name: str, taints: list[Obj]) -> float | None:
        """Evict the node's pods whose time is up; seconds until the next one's is."""
        if not taints:
            return None
        now, next_due = now_utc(), None
        for pod in self.pods.list():
            if (pod.get("spec") or {}).get("nodeName") != node_name or \
                    meta(pod).get("deletionTimestamp"):
                continue
            delay = eviction_delay(pod, taints, now)
            if delay == 0:
                await self._evict(pod)
            elif delay is not None:
                next_due = delay if next_due is None else min(next_due, delay)
        return next_due

    async def _evict(self, pod: Obj) -> None:
        name, namespace = meta(pod)["name"], meta(pod)["namespace"]
        log.info("evicting pod %s/%s from node %s (NoExecute taint)", namespace, name,
                 (pod.get("spec") or {}).get("nodeName"))
        self.events.emit({"apiVersion": "v1", "kind": "Pod", **pod}, EventType.NORMAL,
                         EVENT_REASON, f"Marking for deletion Pod {namespace}/{name}")
        condition = {**DISRUPTION_TARGET, "lastTransitionTime": rfc3339(now_utc())}
        try:
            await self.client.patch(POD.status, name, {"status": {"conditions": [condition]}},
                                    namespace=namespace, patch_type=PatchType.STRATEGIC)
            await self.client.delete(POD, name, namespace=namespace)
        except ApiError as exc:
            if exc.status.code != 404:
                raise

    async def _patch_node(self, kind: Kind, name: str, patch: Obj) -> Obj:
        """A merge patch of the node (`kind` NODE) or of its status (NODE.status)."""
        updated = await self.client.patch(kind, name, patch, patch_type=PatchType.MERGE)
        self.nodes.assume(updated)
        return updated

    async def _mark_pods_not_ready(self, node_name: str, now: str) -> None:
        for pod in self.pods.list():
            if (pod.get("spec") or {}).get("nodeName") != node_name:
                continue
            ready = condition(pod, "Ready")
            if ready is None or ready.get("status") == ConditionStatus.FALSE:
                continue
            patch = {"status": {"conditions": [{"type": "Ready", "status": "False",
                                                "lastTransitionTime": now}]}}
            await patch_cached(self.client, POD.status, self.pods, pod, patch,
                               PatchType.STRATEGIC)
