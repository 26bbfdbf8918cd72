"""Taint-based eviction (kube-controller-manager's NoExecuteTaintManager), pure part.

A pod on a node with NoExecute taints is evicted
- at once when one of those taints is not tolerated by the pod;
- else when the shortest `tolerationSeconds` of the tolerations used has passed
  since the taint was added (`timeAdded`; upstream counts from the moment its
  controller saw the taint, which is the same moment here, as this controller
  adds the taints); a toleration without `tolerationSeconds` tolerates forever.
Pods get the default 300 s tolerations of `node.kubernetes.io/not-ready` and
`unreachable` from the API server's DefaultTolerationSeconds admission.
Eviction: a `DisruptionTarget` condition (reason `DeletionByTaintManager`), an
event `TaintManagerEviction`, then a graceful delete.
"""

from __future__ import annotations

import datetime
from typing import Any

from portico.controllers._placement import tolerates
from portico.controllers._pods import parse_time
from portico.model.vocabulary import TaintEffect

Obj = dict[str, Any]
DISRUPTION_TARGET = {"type": "DisruptionTarget", "status": "True",
                     "reason": "DeletionByTaintManager",
                     "message": "Taint manager: deleting due to NoExecute taint"}
EVENT_REASON = "TaintManagerEviction"


def no_execute_taints(node: Obj) -> list[Obj]:
    return [t for t in (node.get("spec") or {}).get("taints") or []
            if t.get("effect") == TaintEffect.NO_EXECUTE]


def eviction_delay(pod: Obj, taints: list[Obj], now: datetime.datetime) -> float | None:
    """Seconds until `pod` is to be evicted for the NoExecute `taints` (0: now), or None
    if it tolerates them for ever."""
    tolerations = [t for t in (pod.get("spec") or {}).get("tolerations") or []
                   if t.get("effect") in (None, "", TaintEffect.NO_EXECUTE)]
    due: float | None = None
    for taint in taints:
        used = [t for t in tolerations if tolerates([t], taint)]
        if not used:
            return 0.0
        bounded = [t["tolerationSeconds"] for t in used if t.get("tolerationSeconds") is not None]
        if not bounded:
            continue
        added = parse_time(taint.get("timeAdded")) or now
        left = (added - now).total_seconds() + max(min(int(s) for s in bounded), 0)
        due = left if due is None else min(due, left)
    return None if due is None else max(due, 0.0)
