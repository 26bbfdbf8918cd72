"""Pure helpers over pod/workload dicts: conditions, readiness, ownership, ranking.

These mirror `k8s.io/kubernetes/pkg/api/v1/pod` and `pkg/controller/controller_utils.go`:
- a pod is *active* while not Succeeded/Failed and not being deleted;
- *ready* means its `Ready` condition is True; *available* means ready for at
  least `minReadySeconds` (by the Ready condition's lastTransitionTime);
- the pods a ReplicaSet deletes first are ranked by `ActivePods`' order.
No I/O here: every function takes the objects and the current time.
"""

from __future__ import annotations

import datetime
from typing import Any

from portico.model.kinds import Kind
from portico.model.vocabulary import ConditionStatus, PodPhase

Obj = dict[str, Any]


def now_utc() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC).replace(microsecond=0)


def rfc3339(when: datetime.datetime) -> str:
    return when.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: Any) -> datetime.datetime | None:
    if not value:
        return None
    if isinstance(value, datetime.datetime):
        return value if value.tzinfo else value.replace(tzinfo=datetime.UTC)
    return datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def labels_of(obj: Obj) -> dict[str, str]:
    return dict(meta(obj).get("labels") or {})


# --- conditions -----------------------------------------------------------------------
def condition(obj: Obj, cond_type: str) -> Obj | None:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == cond_type:
            return dict(cond)
    return None


def with_condition(conditions: list[Obj] | None, new: Obj) -> list[Obj]:
    """Replace or append `new`; keep lastTransitionTime when the status did not change."""
    out: list[Obj] = []
    found = False
    for cond in conditions or []:
        if cond.get("type") == new["type"]:
            found = True
            merged = dict(new)
            if cond.get("status") == new.get("status") and cond.get("lastTransitionTime"):
                merged["lastTransitionTime"] = cond["lastTransitionTime"]
            out.append(merged)
        else:
            out.append(dict(cond))
    if not found:
        out.append(dict(new))
    return out


# --- pod state ------------------------------------------------------------------------
def phase(pod: Obj) -> str:
    return str((pod.get("status") or {}).get("phase") or PodPhase.PENDING)


def is_terminating(obj: Obj) -> bool:
    return bool(meta(obj).get("deletionTimestamp"))


def is_terminated(pod: Obj) -> bool:
    return phase(pod) in (PodPhase.SUCCEEDED, PodPhase.FAILED)


def is_active(pod: Obj) -> bool:
    """`controller.IsPodActive`."""
    return not is_terminated(pod) and not is_terminating(pod)


def is_ready(pod: Obj) -> bool:
    cond = condition(pod, "Ready")
    return bool(cond and cond.get("status") == ConditionStatus.TRUE)


def ready_since(pod: Obj) -> datetime.datetime | None:
    cond = condition(pod, "Ready")
    if not cond or cond.get("status") != ConditionStatus.TRUE:
        return None
    return parse_time(cond.get("lastTransitionTime"))


def is_available(pod: Obj, min_ready_seconds: int, now: datetime.datetime) -> bool:
    """`podutil.IsPodAvailable`."""
    if not is_ready(pod):
        return False
    if min_ready_seconds <= 0:
        return True
    since = ready_since(pod)
    return since is not None and since + datetime.timedelta(seconds=min_ready_seconds) <= now


def restarts(pod: Obj) -> int:
    return sum(int(c.get("restartCount") or 0)
               for c in (pod.get("status") or {}).get("containerStatuses") or [])


# --- ownership ------------------------------------------------------------------------
def controller_ref(obj: Obj) -> Obj | None:
    for ref in meta(obj).get("ownerReferences") or []:
        if ref.get("controller"):
            return dict(ref)
    return None


def owner_reference(owner: Obj, kind: Kind) -> Obj:
    """A controller reference to `owner`, an object of `kind`."""
    m = meta(owner)
    return {"apiVersion": kind.api_version, "kind": kind.gvk.kind, "name": m["name"],
            "uid": m["uid"], "controller": True, "blockOwnerDeletion": True}


def involved(kind: Kind, obj: Obj) -> Obj:
    """`obj`, an object of `kind`, as an Event's involved object (apiVersion and kind
    stated, as cached objects need not carry them)."""
    return {"apiVersion": kind.api_version, "kind": kind.gvk.kind, "metadata": meta(obj)}


# --- ranking (controller.ActivePods / getPodsToDelete) --------------------------------
_PHASE_RANK: dict[str, int] = {PodPhase.PENDING: 0, PodPhase.UNKNOWN: 1, PodPhase.RUNNING: 2}
_FAR_FUTURE = datetime.datetime.max.replace(tzinfo=datetime.UTC)


def deletion_rank(pod: Obj) -> tuple[Any, ...]:
    """Sort key: pods to delete first sort first.

    Unassigned < assigned; Pending < Unknown < Running; not ready < ready; ready for
    less time < longer; more restarts < fewer; newer < older (ActivePods' Less).
    """
    since = ready_since(pod)
    created = parse_time(meta(pod).get("creationTimestamp")) or _FAR_FUTURE
    return (
        bool((pod.get("spec") or {}).get("nodeName")),
        _PHASE_RANK.get(phase(pod), 1),
        is_ready(pod),
        -(since.timestamp() if since else 0.0),
        -restarts(pod),
        -created.timestamp(),
        meta(pod).get("name", ""),
    )
