"""The scheduler (kube-scheduler's default profile, reduced to what Portico needs).

Pure part, `schedule(pod, nodes, load)`:
- filter: the node is Ready, not `spec.unschedulable`, every NoSchedule/NoExecute
  taint is tolerated, `nodeSelector` and required node affinity (In, NotIn, Exists,
  DoesNotExist over labels) match;
- score: fewest non-terminated pods first, ties by node name (a spread by count);
- when no node fits, the message is kube's `0/3 nodes are available: 3 node(s)
  didn't match Pod's node affinity/selector.` (reasons counted, sorted).

Controller part: pods and nodes come from informers; the queue has one worker so
placements are decided one at a time against a load that includes the pods this
scheduler just bound (written through to the pod cache, like the scheduler's
"assumed" pods). Node changes requeue every pending pod. Binding uses the
`pods/binding` subresource and falls back to a PATCH of `spec.nodeName` while the
API server does not serve it (`BIND_WITH_SUBRESOURCE`); the binding answers 201 with
a Status, which lightkube fails to decode as a Binding, so that error means success.
Then PodScheduled=True is written, and a `Scheduled` event; failures get PodScheduled=False
`Unschedulable` and a `FailedScheduling` event (once per distinct message).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass

import msgspec
from lightkube import ApiError, AsyncClient
from lightkube.models.core_v1 import ObjectReference
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Node, Pod
from lightkube.types import PatchType

from portico.client import InformerFactory, Obj, WorkQueue, key_of, split_key
from portico.controllers._events import EventRecorder, EventType
from portico.controllers._pods import (
    ConditionStatus,
    condition,
    is_terminated,
    is_terminating,
    labels_of,
    map_selector_matches,
    meta,
    now_utc,
    rfc3339,
)

log = logging.getLogger("portico.controllers.scheduler")

SCHEDULER_NAME = "default-scheduler"
BIND_WITH_SUBRESOURCE = True  # False: PATCH spec.nodeName directly
_SCHEDULING_EFFECTS = ("NoSchedule", "NoExecute")
R_NOT_READY = "node(s) were not ready"
R_UNSCHEDULABLE = "node(s) were unschedulable"
R_SELECTOR = "node(s) didn't match Pod's node affinity/selector"


@dataclass(frozen=True)
class Decision:
    node: str | None
    message: str


def tolerates(tolerations: list[Obj], taint: Obj) -> bool:
    for tol in tolerations:
        if tol.get("effect") and tol.get("effect") != taint.get("effect"):
            continue
        if tol.get("operator") == "Exists":
            if not tol.get("key") or tol.get("key") == taint.get("key"):
                return True
        elif tol.get("key") == taint.get("key") and (tol.get("value") or "") == (
                taint.get("value") or ""):
            return True
    return False


def _term_matches(term: Obj, labels: dict[str, str]) -> bool:
    for expr in term.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        ok = {"In": key in labels and labels.get(key) in values,
              "NotIn": key not in labels or labels.get(key) not in values,
              "Exists": key in labels, "DoesNotExist": key not in labels}.get(op, False)
        if not ok:
            return False
    return True


def matches_node(pod: Obj, node: Obj) -> bool:
    """nodeSelector AND (any of the required node affinity terms)."""
    spec = pod.get("spec") or {}
    labels = labels_of(node)
    if not map_selector_matches(spec.get("nodeSelector"), labels):
        return False
    required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    terms = required.get("nodeSelectorTerms") or []
    return not terms or any(_term_matches(t, labels) for t in terms)


def _untolerated(pod: Obj, node: Obj) -> Obj | None:
    tolerations = (pod.get("spec") or {}).get("tolerations") or []
    for taint in (node.get("spec") or {}).get("taints") or []:
        if taint.get("effect") in _SCHEDULING_EFFECTS and not tolerates(tolerations, taint):
            return dict(taint)
    return None


def filter_reason(pod: Obj, node: Obj) -> str | None:
    """Why `node` cannot take `pod`, or None when it fits."""
    if (node.get("spec") or {}).get("unschedulable"):
        return R_UNSCHEDULABLE
    taint = _untolerated(pod, node)
    if taint is not None:
        return f"node(s) had untolerated taint {{{taint.get('key')}: {taint.get('value', '')}}}"
    ready = condition(node, "Ready")
    if not ready or ready.get("status") != ConditionStatus.TRUE:
        return R_NOT_READY
    if not matches_node(pod, node):
        return R_SELECTOR
    return None


def schedule(pod: Obj, nodes: list[Obj], load: Counter[str]) -> Decision:
    if not nodes:
        return Decision(None, "no nodes available to schedule pods")
    reasons: Counter[str] = Counter()
    fits: list[str] = []
    for node in nodes:
        reason = filter_reason(pod, node)
        if reason is None:
            fits.append(meta(node)["name"])
        else:
            reasons[reason] += 1
    if fits:
        best = min(fits, key=lambda name: (load[name], name))
        return Decision(best, "")
    detail = ", ".join(f"{count} {reason}" for reason, count in sorted(reasons.items()))
    return Decision(None, f"0/{len(nodes)} nodes are available: {detail}.")


def needs_scheduling(pod: Obj) -> bool:
    spec = pod.get("spec") or {}
    return (not spec.get("nodeName") and not is_terminating(pod) and not is_terminated(pod)
            and (spec.get("schedulerName") or SCHEDULER_NAME) == SCHEDULER_NAME)


class Scheduler:
    def __init__(self, client: AsyncClient, informers: InformerFactory) -> None:
        self.client = client
        self.pods = informers.informer(Pod)
        self.nodes = informers.informer(Node)
        self.events = EventRecorder(client, SCHEDULER_NAME)
        self.queue = WorkQueue("scheduler", self.sync, workers=1)
        self.pods.add_handler(self._on_pod)
        self.nodes.add_handler(self._on_node)

    def _on_pod(self, previous: Obj | None, current: Obj | None) -> None:
        if current is not None and needs_scheduling(current):
            self.queue.add(key_of(current))
        elif previous is not None and (previous.get("spec") or {}).get("nodeName") and (
                current is None or is_terminated(current)):
            self._requeue_pending()  # a bound pod went away: room changed for pending ones

    def _on_node(self, previous: Obj | None, current: Obj | None) -> None:
        self._requeue_pending()

    def _requeue_pending(self) -> None:
        for pod in self.pods.list():
            if needs_scheduling(pod):
                self.queue.add(key_of(pod))

    def load(self) -> Counter[str]:
        counts: Counter[str] = Counter()
        for pod in self.pods.list():
            node = (pod.get("spec") or {}).get("nodeName")
            if node and not is_terminated(pod):
                counts[node] += 1
        return counts

    async def sync(self, key: str) -> float | None:
        pod = self.pods.get(key)
        if pod is None or not needs_scheduling(pod) or not self.nodes.synced:
            return None
        decision = schedule(pod, sorted(self.nodes.list(), key=lambda n: meta(n)["name"]),
                            self.load())
        if decision.node is None:
            await self._unschedulable(pod, decision.message)
            return None
        await self._bind(pod, decision.node)
        return None

    async def _bind(self, pod: Obj, node: str) -> None:
        namespace, name = split_key(key_of(pod))
        if BIND_WITH_SUBRESOURCE:
            try:
                binding = Pod.Binding(
                    metadata=ObjectMeta(name=name, namespace=namespace),
                    target=ObjectReference(apiVersion="v1", kind="Node", name=node))
                await self.client.create(binding, name, namespace=namespace)
            except msgspec.ValidationError:
                pass  # 201 with a Status body, which lightkube cannot decode as a Binding
            except ApiError as exc:
                if exc.status.code not in (404, 405):
                    raise
                await self._patch_node_name(namespace, name, node)
        else:
            await self._patch_node_name(namespace, name, node)
        assumed = dict(pod, spec=dict(pod.get("spec") or {}, nodeName=node))
        self.pods.assume(assumed)
        await self._set_scheduled(namespace, name, ConditionStatus.TRUE, None, None)
        await self.events.record(_involved(pod), EventType.NORMAL, "Scheduled",
                                 f"Successfully assigned {namespace}/{name} to {node}")
        log.info("bound %s/%s to %s", namespace, name, node)

    async def _patch_node_name(self, namespace: str | None, name: str, node: str) -> None:
        await self.client.patch(Pod, name, {"spec": {"nodeName": node}}, namespace=namespace,
                                patch_type=PatchType.MERGE)

    async def _unschedulable(self, pod: Obj, message: str) -> None:
        current = condition(pod, "PodScheduled") or {}
        if current.get("status") == ConditionStatus.FALSE and current.get("message") == message:
            return
        namespace, name = split_key(key_of(pod))
        await self._set_scheduled(namespace, name, ConditionStatus.FALSE, "Unschedulable",
                                  message)
        await self.events.record(_involved(pod), EventType.WARNING, "FailedScheduling", message)

    async def _set_scheduled(self, namespace: str | None, name: str, status: ConditionStatus,
                             reason: str | None, message: str | None) -> None:
        cond: Obj = {"type": "PodScheduled", "status": str(status), "lastProbeTime": None,
                     "lastTransitionTime": rfc3339(now_utc())}
        if reason:
            cond.update(reason=reason, message=message)
        try:
            updated = await self.client.patch(
                Pod.Status, name, {"status": {"conditions": [cond]}}, namespace=namespace,
                patch_type=PatchType.STRATEGIC)
            self.pods.assume(updated.to_dict())
        except ApiError as exc:
            if exc.status.code != 404:
                raise


def _involved(pod: Obj) -> Obj:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta(pod)}
