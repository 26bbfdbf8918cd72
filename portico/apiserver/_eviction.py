"""`pods/eviction` (policy/v1 Eviction): a delete that honours PodDisruptionBudgets.

As kube-apiserver's eviction REST: a pod that is Succeeded, Failed, Pending or
already being deleted is deleted without asking any budget.  Otherwise the
PodDisruptionBudgets of its namespace whose selector matches it decide: more than one
is an error (500, upstream's text); a budget whose status is older than its spec
(`observedGeneration`) or that allows no disruption answers 429 TooManyRequests
`Cannot evict pod as it would violate the pod's disruption budget.` with a
`DisruptionBudget` cause; else one disruption is taken from the budget's status
(`disruptionsAllowed` - 1, the pod in `disruptedPods`) in the same step, and the pod
is deleted with the Eviction's deleteOptions.  Success is 201 with a Status.
"""

from __future__ import annotations

import datetime
from typing import Any

from aiohttp import web

from portico.apiserver import errors
from portico.apiserver._bodies import read_object, status_body_response
from portico.apiserver.registry import DeleteOptions, ListOptions, Registry, WriteOptions
from portico.apiserver.resources._base import Object, ResourceType, nested
from portico.apiserver.resources.poddisruptionbudgets import PODDISRUPTIONBUDGETS
from portico.model.selectors import label_selector_matches

VIOLATION = "Cannot evict pod as it would violate the pod's disruption budget."
MANY_BUDGETS = ("This pod has more than one PodDisruptionBudget, which the eviction "
                "subresource does not support.")
_IGNORES_BUDGETS = ("Succeeded", "Failed", "Pending")


def _too_many_requests(cause: str) -> errors.StatusError:
    return errors.StatusError(429, "TooManyRequests", VIOLATION,
                              {"causes": [{"reason": "DisruptionBudget", "message": cause}]})


def budget_refusal(budget: Object) -> str | None:
    """Why `budget` allows no eviction now (the 429's cause), or None (pure)."""
    status = budget.get("status") or {}
    name = nested(budget, "metadata", "name")
    if int(status.get("observedGeneration") or 0) < int(
            nested(budget, "metadata", "generation", default=1) or 1):
        return f"The disruption budget {name} is still being processed by the server."
    if int(status.get("disruptionsAllowed") or 0) <= 0:
        return (f"The disruption budget {name} needs {int(status.get('desiredHealthy') or 0)} "
                f"healthy pods and has {int(status.get('currentHealthy') or 0)} currently")
    return None


def _delete_options(eviction: Object) -> DeleteOptions:
    body: dict[str, Any] = eviction.get("deleteOptions") or {}
    pre = body.get("preconditions") or {}
    return DeleteOptions(grace_period_seconds=body.get("gracePeriodSeconds"),
                         precondition_uid=pre.get("uid") or "",
                         precondition_resource_version=pre.get("resourceVersion") or "",
                         dry_run=bool(body.get("dryRun")))


def _take_disruption(registry: Registry, budget: Object, pod_name: str) -> None:
    status = dict(budget.get("status") or {})
    status["disruptionsAllowed"] = int(status.get("disruptionsAllowed") or 0) - 1
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    status["disruptedPods"] = {**(status.get("disruptedPods") or {}), pod_name: now}
    meta = budget["metadata"]
    registry.update(PODDISRUPTIONBUDGETS, meta["namespace"], meta["name"],
                    {**budget, "status": status}, "status", WriteOptions())


async def evict(request: web.Request, registry: Registry, pods: ResourceType, namespace: str,
                name: str) -> web.Response:
    eviction = await read_object(request, "Eviction")
    pod = registry.get(pods, namespace, name)
    phase = nested(pod, "status", "phase", default="Pending")
    if phase not in _IGNORES_BUDGETS and not pod["metadata"].get("deletionTimestamp"):
        listed = registry.list(PODDISRUPTIONBUDGETS, namespace, ListOptions()).stored
        labels = pod["metadata"].get("labels") or {}
        budgets = [b for b in (s.object() for s in listed)
                   if label_selector_matches(nested(b, "spec", "selector"), labels)]
        if len(budgets) > 1:
            raise errors.internal(MANY_BUDGETS)
        if budgets:
            refusal = budget_refusal(budgets[0])
            if refusal is not None:
                raise _too_many_requests(refusal)
            _take_disruption(registry, budgets[0], name)
    registry.delete(pods, namespace, name, _delete_options(eviction))
    return status_body_response(errors.status_body("Success", code=201), 201)
