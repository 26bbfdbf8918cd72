"""The ReplicaSet controller: keeps `spec.replicas` active pods from the template.

Pure part, `plan(rs, pods, now)`: from the ReplicaSet and every pod of its
namespace, which orphans to adopt (no controller, labels match the selector),
which owned pods to release (labels no longer match), how many pods to create,
which to delete (kube's `ActivePods` ranking: unscheduled, pending, not ready,
newest first), and the status (replicas, fullyLabeledReplicas, readyReplicas,
availableReplicas honouring minReadySeconds, observedGeneration).

Controller part: informers on ReplicaSets and Pods; a pod event enqueues its
controller (or, for an orphan, every ReplicaSet of the namespace that selects
it). Pods it creates are written through to the pod cache, and pods it deletes
are remembered by uid until the watch shows them going (kube's "expectations"),
so a sync never acts twice on a change the watch has not delivered yet. Creation
uses slow start (`_workload.slow_start`: batches of 1, 2, 4, ...) and stops at the
first failure.

The same controller runs ReplicationControllers (`REPLICATION_CONTROLLER`):
their plain label-map selector is read as a LabelSelector's matchLabels, which is
all the difference kube-controller-manager's replication controller has.
"""

from __future__ import annotations

import asyncio
import datetime
import functools
import logging
import time
from dataclasses import dataclass, field

from portico.client import ApiError, Obj, key_of
from portico.controllers._controller import ControllerContext, QueuedController
from portico.controllers._podcontrol import pod_from_template as build_pod
from portico.controllers._pods import (
    controller_ref,
    deletion_rank,
    involved,
    is_active,
    is_available,
    is_ready,
    labels_of,
    meta,
    now_utc,
    owner_reference,
    ready_since,
)
from portico.controllers._workload import patch_cached, slow_start
from portico.model import kinds
from portico.model.selectors import label_selector_matches
from portico.model.vocabulary import EventType

log = logging.getLogger("portico.controllers.replicaset")

BURST_REPLICAS = 500
_EXPECTATION_TTL = 300.0


@dataclass(frozen=True)
class ReplicaKind:
    """What differs between ReplicaSets and ReplicationControllers."""

    resource: kinds.Kind
    component: str
    map_selector: bool = False

    def view(self, obj: Obj) -> Obj:
        """The object with its selector as a LabelSelector (RCs have a plain map)."""
        if not self.map_selector:
            return obj
        spec = dict(obj.get("spec") or {})
        spec["selector"] = {"matchLabels": dict(spec.get("selector") or {})}
        return dict(obj, spec=spec)


REPLICA_SET = ReplicaKind(kinds.REPLICA_SET, "replicaset-controller")
REPLICATION_CONTROLLER = ReplicaKind(kinds.REPLICATION_CONTROLLER, "replication-controller",
                                     map_selector=True)


@dataclass
class Plan:
    adopt: list[Obj] = field(default_factory=list)
    release: list[Obj] = field(default_factory=list)
    create: int = 0
    delete: list[Obj] = field(default_factory=list)
    status: Obj = field(default_factory=dict)
    recheck_after: float | None = None


def _owned_by(pod: Obj, uid: str) -> bool:
    ref = controller_ref(pod)
    return ref is not None and ref.get("uid") == uid


def claim(rs: Obj, pods: list[Obj]) -> tuple[list[Obj], list[Obj], list[Obj]]:
    """`ClaimPods`: (owned after the claim, to adopt, to release)."""
    uid = meta(rs)["uid"]
    selector = (rs.get("spec") or {}).get("selector") or {}
    owned, adopt, release = [], [], []
    for pod in pods:
        matches = bool(selector) and label_selector_matches(selector, labels_of(pod))
        if _owned_by(pod, uid):
            if matches:
                owned.append(pod)
            elif not meta(pod).get("deletionTimestamp"):
                release.append(pod)
        elif matches and controller_ref(pod) is None and is_active(pod) \
                and not meta(rs).get("deletionTimestamp"):
            adopt.append(pod)
            owned.append(pod)
    return owned, adopt, release


def status_of(rs: Obj, active: list[Obj], now: datetime.datetime) -> tuple[Obj, float | None]:
    spec = rs.get("spec") or {}
    min_ready = int(spec.get("minReadySeconds") or 0)
    template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    labeled = sum(1 for p in active if template_labels.items() <= labels_of(p).items())
    ready = [p for p in active if is_ready(p)]
    available = [p for p in ready if is_available(p, min_ready, now)]
    recheck: float | None = None
    for pod in ready:
        since = ready_since(pod)
        if since is not None and pod not in available:
            wait = (since + datetime.timedelta(seconds=min_ready) - now).total_seconds()
            recheck = min(recheck or wait, wait)
    status: Obj = {"replicas": len(active), "fullyLabeledReplicas": labeled,
                   "readyReplicas": len(ready), "availableReplicas": len(available),
                   "observedGeneration": meta(rs).get("generation", 1)}
    status = {k: v for k, v in status.items() if v or k == "replicas"}
    return status, (max(recheck, 0.05) if recheck is not None else None)


def plan(rs: Obj, pods: list[Obj], now: datetime.datetime) -> Plan:
    owned, adopt, release = claim(rs, pods)
    active = [p for p in owned if is_active(p)]
    replicas = int((rs.get("spec") or {}).get("replicas", 1))
    result = Plan(adopt=adopt, release=release)
    diff = len(active) - replicas
    if diff < 0:
        result.create = min(-diff, BURST_REPLICAS)
    elif diff > 0:
        result.delete = sorted(active, key=deletion_rank)[:min(diff, BURST_REPLICAS)]
    result.status, result.recheck_after = status_of(rs, active, now)
    return result


def pod_from_template(rs: Obj, kind: ReplicaKind = REPLICA_SET) -> Obj:
    template = (rs.get("spec") or {}).get("template") or {}
    return build_pod(rs, kind.resource, template)


class ReplicaSetController(QueuedController):
    def __init__(self, ctx: ControllerContext, kind: ReplicaKind = REPLICA_SET) -> None:
        super().__init__(ctx, kind.component, workers=4)
        self.kind = kind
        self.replicasets = self.watch(kind.resource, self.enqueue_current)
        self.pods = self.watch(kinds.POD, self._on_pod)
        self._deleting: dict[str, float] = {}  # pod uid -> when we asked

    def _on_pod(self, previous: Obj | None, current: Obj | None) -> None:
        if current is None and previous is not None:
            self._deleting.pop(meta(previous).get("uid", ""), None)
        for pod in (previous, current):
            if pod is None:
                continue
            ref = controller_ref(pod)
            ns = meta(pod).get("namespace")
            if ref is not None:
                if ref.get("kind") == self.kind.resource.gvk.kind:
                    self.queue.add(f"{ns}/{ref['name']}")
                continue
            for rs in self.replicasets.list(ns):
                selector = (self.kind.view(rs).get("spec") or {}).get("selector")
                if selector and label_selector_matches(selector, labels_of(pod)):
                    self.queue.add(key_of(rs))

    def _pending_deletion(self, pod: Obj) -> bool:
        uid = meta(pod).get("uid", "")
        asked = self._deleting.get(uid)
        if asked is None:
            return False
        if meta(pod).get("deletionTimestamp") or time.monotonic() - asked > _EXPECTATION_TTL:
            del self._deleting[uid]
            return False
        return True

    async def sync(self, key: str) -> float | None:
        stored = self.replicasets.get(key)
        if stored is None or not self.pods.synced:
            return None
        rs = self.kind.view(stored)
        ns = meta(rs)["namespace"]
        pods = [p for p in self.pods.list(ns) if not self._pending_deletion(p)]
        if meta(rs).get("deletionTimestamp"):
            return None
        result = plan(rs, pods, now_utc())
        mine = owner_reference(rs, self.kind.resource)
        for pod in result.adopt:
            await self._set_owners(pod, [*(meta(pod).get("ownerReferences") or []), mine])
        for pod in result.release:
            kept = [r for r in meta(pod).get("ownerReferences") or []
                    if r.get("uid") != meta(rs)["uid"]]
            await self._set_owners(pod, kept)
        await self._create(rs, result.create)
        await asyncio.gather(*(self._delete(rs, pod) for pod in result.delete))
        if result.create or result.delete or result.adopt or result.release:
            pods = [p for p in self.pods.list(ns) if not self._pending_deletion(p)]
            result.status = plan(rs, pods, now_utc()).status
        await self._write_status(stored, result.status)
        return result.recheck_after

    async def _set_owners(self, pod: Obj, refs: list[Obj]) -> None:
        await patch_cached(self.client, kinds.POD, self.pods, pod,
                           {"metadata": {"ownerReferences": refs or None}})

    async def _create(self, rs: Obj, count: int) -> None:
        await slow_start([functools.partial(self._create_one, rs)] * count)

    async def _create_one(self, rs: Obj) -> None:
        body = pod_from_template(rs, self.kind)
        created = await self.client.create(kinds.POD, body, namespace=meta(rs)["namespace"])
        self.pods.assume(created)
        await self.events.record(involved(self.kind.resource, rs), EventType.NORMAL,
                                 "SuccessfulCreate", f"Created pod: {meta(created)['name']}")

    async def _delete(self, rs: Obj, pod: Obj) -> None:
        self._deleting[meta(pod)["uid"]] = time.monotonic()
        try:
            await self.client.delete(kinds.POD, meta(pod)["name"], namespace=meta(pod)["namespace"])
        except ApiError as exc:
            self._deleting.pop(meta(pod)["uid"], None)
            if exc.status.code != 404:
                raise
            return
        await self.events.record(involved(self.kind.resource, rs), EventType.NORMAL,
                                 "SuccessfulDelete", f"Deleted pod: {meta(pod)['name']}")

    async def _write_status(self, rs: Obj, status: Obj) -> None:
        current = dict(rs.get("status") or {})
        wanted = dict(current, **status)
        for dropped in ("fullyLabeledReplicas", "readyReplicas", "availableReplicas"):
            if dropped not in status:
                wanted.pop(dropped, None)
        if wanted == current:
            return
        patch = {"status": {k: status.get(k) for k in set(current) | set(status)
                            if k not in ("conditions",)}}
        await patch_cached(self.client, self.kind.resource.status, self.replicasets, rs, patch)

