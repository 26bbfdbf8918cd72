"""The disruption controller: PodDisruptionBudget status, as kube-controller-manager keeps it.

Per budget (pure part `budget_status`): the pods of its namespace its selector
matches and that are not terminated are `expectedPods`; the Ready ones that are not
being deleted and not in `disruptedPods` are `currentHealthy`; `desiredHealthy` is
`minAvailable` (a percentage of expectedPods, rounded up) or expectedPods minus
`maxUnavailable` (likewise); `disruptionsAllowed` is currentHealthy - desiredHealthy,
at least 0; the `DisruptionAllowed` condition says `SufficientPods` or
`InsufficientPods`.  `disruptedPods` (written by the eviction subresource) keeps an
entry until its pod is gone or for two minutes, as upstream.  kube takes
expectedPods from the pods' controllers' scale; counting the matching pods gives the
same number once a workload has settled.

Budgets are resynced when they change and when a pod of their namespace changes.
"""

from __future__ import annotations

import datetime
import math
from typing import Any

from portico.client import ApiError, Obj, PatchType, key_of, split_key
from portico.controllers._controller import ControllerContext, QueuedController
from portico.controllers._pods import (
    is_ready,
    is_terminated,
    is_terminating,
    labels_of,
    meta,
    now_utc,
    parse_time,
    rfc3339,
    with_condition,
)
from portico.model.kinds import POD, POD_DISRUPTION_BUDGET
from portico.model.selectors import label_selector_matches

DISRUPTED_POD_TIMEOUT = datetime.timedelta(minutes=2)


def _count(value: Any, total: int) -> int:
    if isinstance(value, str) and value.endswith("%"):
        return math.ceil(int(value[:-1]) * total / 100)
    return int(value or 0)


def budget_status(budget: Obj, pods: list[Obj], now: datetime.datetime) -> Obj:
    """The status the budget should have, given the pods of its namespace (pure)."""
    spec, previous = budget.get("spec") or {}, budget.get("status") or {}
    matching = [p for p in pods if not is_terminated(p)
                and label_selector_matches(spec.get("selector"), labels_of(p))]
    names = {meta(p).get("name") for p in matching}
    disrupted = {name: when for name, when in (previous.get("disruptedPods") or {}).items()
                 if name in names and (parse_time(when) or now) + DISRUPTED_POD_TIMEOUT > now}
    healthy = sum(1 for p in matching if is_ready(p) and not is_terminating(p)
                  and meta(p).get("name") not in disrupted)
    expected = len(matching)
    if spec.get("maxUnavailable") is not None:
        desired = max(0, expected - _count(spec["maxUnavailable"], expected))
    else:
        desired = _count(spec.get("minAvailable"), expected)
    allowed = max(0, healthy - desired)
    reason = "SufficientPods" if allowed > 0 else "InsufficientPods"
    cond = {"type": "DisruptionAllowed", "status": "True" if allowed > 0 else "False",
            "reason": reason, "message": "", "observedGeneration": meta(budget).get("generation"),
            "lastTransitionTime": rfc3339(now)}
    old = next((c for c in previous.get("conditions") or []
                if c.get("type") == "DisruptionAllowed"), None)
    if old is not None and old.get("status") == cond["status"]:
        cond["lastTransitionTime"] = old.get("lastTransitionTime")
    status: Obj = {"observedGeneration": meta(budget).get("generation"),
                   "disruptionsAllowed": allowed, "currentHealthy": healthy,
                   "desiredHealthy": desired, "expectedPods": expected,
                   "conditions": with_condition(previous.get("conditions"), cond)}
    if disrupted:
        status["disruptedPods"] = disrupted
    return status


class DisruptionController(QueuedController):
    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx, "disruption", workers=1)
        self.budgets = self.watch(POD_DISRUPTION_BUDGET, self.enqueue)
        self.pods = self.watch(POD, self._on_pod)

    def _on_pod(self, previous: Obj | None, current: Obj | None) -> None:
        namespace = meta(current or previous or {}).get("namespace")
        for budget in self.budgets.list(namespace):
            self.queue.add(key_of(budget))

    async def sync(self, key: str) -> float | None:
        budget = self.budgets.get(key)
        if budget is None:
            return None
        namespace, name = split_key(key)
        status = budget_status(budget, self.pods.list(namespace), now_utc())
        if status == {k: (budget.get("status") or {}).get(k) for k in status} and \
                set(budget.get("status") or {}) <= set(status) | {"disruptedPods"}:
            return None
        removed = set((budget.get("status") or {}).get("disruptedPods") or {}) - set(
            status.get("disruptedPods") or {})
        patch = {"metadata": {"resourceVersion": meta(budget).get("resourceVersion")},
                 "status": {**status, "disruptedPods": {
                     **dict.fromkeys(removed), **(status.get("disruptedPods") or {})} or None}}
        try:
            await self.client.patch(POD_DISRUPTION_BUDGET.status, name, patch, namespace=namespace,
                                    patch_type=PatchType.MERGE)
        except ApiError as error:
            if error.status.code in (404, 409):
                return 0.2 if error.status.code == 409 else None
            raise
        disrupted = status.get("disruptedPods")
        return DISRUPTED_POD_TIMEOUT.total_seconds() if disrupted else None
