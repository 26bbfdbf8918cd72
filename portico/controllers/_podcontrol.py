"""Creating and deleting a workload's pods, as client-go's `PodControl` does.

`pod_from_template(owner, owner_kind, template, ...)` is the pod body every
workload controller creates: the template's labels, annotations, finalizers and
spec, a controller ownerReference to the owner, and either a fixed `name`
(StatefulSets) or `generateName` `<owner>-` (ReplicaSets, DaemonSets, Jobs).

`PodControl` writes them: each created pod is written through to the pod informer
(so the next sync sees it before the watch does) and recorded as a
`SuccessfulCreate` event on the owner; deletions record `SuccessfulDelete`, and a
pod already gone (404) counts as deleted. A failed create records kube's
`FailedCreate` warning and raises.
"""

from __future__ import annotations

import copy

from portico.client import Api, ApiError, EventRecorder, Informer, Obj
from portico.controllers._pods import involved, meta, owner_reference
from portico.model.kinds import POD, Kind
from portico.model.vocabulary import EventType


def pod_from_template(owner: Obj, owner_kind: Kind, template: Obj,
                      name: str | None = None) -> Obj:
    tmeta = template.get("metadata") or {}
    body_meta: Obj = {"namespace": meta(owner)["namespace"],
                      "labels": dict(tmeta.get("labels") or {}),
                      "ownerReferences": [owner_reference(owner, owner_kind)]}
    if name is None:
        body_meta["generateName"] = f"{meta(owner)['name']}-"
    else:
        body_meta["name"] = name
    if tmeta.get("annotations"):
        body_meta["annotations"] = dict(tmeta["annotations"])
    if tmeta.get("finalizers"):
        body_meta["finalizers"] = list(tmeta["finalizers"])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": body_meta,
            "spec": copy.deepcopy(template.get("spec") or {})}


class PodControl:
    def __init__(self, client: Api, pods: Informer, events: EventRecorder,
                 owner_kind: Kind) -> None:
        self.client = client
        self.pods = pods
        self.events = events
        self.owner_kind = owner_kind

    async def create(self, owner: Obj, body: Obj) -> Obj:
        try:
            created = await self.client.create(POD, body, namespace=meta(owner)["namespace"])
        except ApiError as exc:
            await self.events.record(involved(self.owner_kind, owner), EventType.WARNING,
                                     "FailedCreate", f"Error creating: {exc.status.message}")
            raise
        self.pods.assume(created)
        await self.events.record(involved(self.owner_kind, owner), EventType.NORMAL,
                                 "SuccessfulCreate", self.message("Created", owner, created))
        return created

    async def delete(self, owner: Obj, pod: Obj) -> None:
        try:
            await self.client.delete(POD, meta(pod)["name"], namespace=meta(pod)["namespace"])
        except ApiError as exc:
            if exc.status.code != 404:
                raise
            return
        await self.events.record(involved(self.owner_kind, owner), EventType.NORMAL,
                                 "SuccessfulDelete", self.message("Deleted", owner, pod))

    def message(self, verb: str, owner: Obj, pod: Obj) -> str:
        """The event text (`Created pod: web-x7k2p`); StatefulSets word it their way."""
        return f"{verb} pod: {meta(pod)['name']}"
