"""The DaemonSet controller: one pod per eligible node, rolled out by revision.

One sync of a DaemonSet, from the informer caches (DaemonSets, nodes, pods and
ControllerRevisions): the update revision is the template's (`_history`; pods carry
its hash as `controller-revision-hash`), `_daemonset_plan.plan` says which nodes get
a new pod and which pods go, then the status is written and revisions no pod uses
beyond `revisionHistoryLimit` are deleted. A node change enqueues every DaemonSet
(eligibility depends on labels and taints); a pod change enqueues its owner.
"""

from __future__ import annotations

import logging

from lightkube import ApiError, AsyncClient
from lightkube.resources.apps_v1 import ControllerRevision, DaemonSet
from lightkube.resources.core_v1 import Node, Pod
from lightkube.types import PatchType

from portico.client import EventRecorder, InformerFactory, Obj, WorkQueue, key_of
from portico.controllers import _daemonset_plan as dp
from portico.controllers._history import History
from portico.controllers._podcontrol import OwnerKind, PodControl, pod_from_template
from portico.controllers._pods import controller_ref, is_terminating, meta, now_utc

log = logging.getLogger("portico.controllers.daemonset")

COMPONENT = "daemonset-controller"
KIND = OwnerKind("apps/v1", "DaemonSet")


def revision_hash(revision: Obj) -> str:
    return str(meta(revision)["name"]).rsplit("-", 1)[-1]


def new_pod(ds: Obj, node: str, hash_: str) -> Obj:
    template = (ds.get("spec") or {}).get("template") or {}
    pod = pod_from_template(ds, KIND, template)
    pod["metadata"]["labels"][dp.REVISION_LABEL] = hash_
    pod["spec"] = dp.pin_to_node(dp.daemon_pod_spec(pod["spec"]), node)
    return pod


class DaemonSetController:
    def __init__(self, client: AsyncClient, informers: InformerFactory) -> None:
        self.client = client
        self.sets = informers.informer(DaemonSet)
        self.nodes = informers.informer(Node)
        self.pods = informers.informer(Pod)
        self.history = History(client, informers.informer(ControllerRevision), KIND)
        self.control = PodControl(client, self.pods, EventRecorder(client, COMPONENT), KIND)
        self.queue = WorkQueue(COMPONENT, self.sync, workers=2)
        self.sets.add_handler(lambda _p, c: c is not None and self.queue.add(key_of(c)))
        self.nodes.add_handler(lambda _p, _c: self._enqueue_all())
        self.pods.add_handler(self._on_pod)

    def _enqueue_all(self) -> None:
        for ds in self.sets.list():
            self.queue.add(key_of(ds))

    def _on_pod(self, previous: Obj | None, current: Obj | None) -> None:
        for pod in (previous, current):
            ref = controller_ref(pod) if pod is not None else None
            if pod is not None and ref is not None and ref.get("kind") == KIND.kind:
                self.queue.add(f"{meta(pod)['namespace']}/{ref['name']}")

    def _owned_pods(self, ds: Obj) -> list[Obj]:
        uid = meta(ds)["uid"]
        return [p for p in self.pods.list(meta(ds)["namespace"])
                if (controller_ref(p) or {}).get("uid") == uid and not is_terminating(p)]

    async def sync(self, key: str) -> float | None:
        ds = self.sets.get(key)
        if ds is None or meta(ds).get("deletionTimestamp") or not self.pods.synced:
            return None
        template = (ds.get("spec") or {}).get("template") or {}
        labels = dict((template.get("metadata") or {}).get("labels") or {})
        update = await self.history.ensure(ds, template, labels)
        hash_ = revision_hash(update)
        view = dp.View(ds, self.nodes.list(), self._owned_pods(ds), hash_, now_utc())
        result = dp.plan(view)
        for node in result.create:
            await self.control.create(ds, new_pod(ds, node, hash_))
        for pod in result.delete:
            await self.control.delete(ds, pod)
        view = dp.View(ds, self.nodes.list(), self._owned_pods(ds), hash_, now_utc())
        await self._write_status(ds, dp.status(view, int(meta(ds).get("generation") or 1)))
        in_use = {meta(update)["name"]} | {
            f"{meta(ds)['name']}-{dp.revision_of(p)}" for p in view.pods}
        limit = int((ds.get("spec") or {}).get("revisionHistoryLimit", 10))
        await self.history.truncate(ds, in_use, limit)
        min_ready = view.min_ready
        return float(min_ready) if min_ready and result.delete == [] else None

    async def _write_status(self, ds: Obj, status: Obj) -> None:
        current = ds.get("status") or {}
        if all(current.get(k) == v for k, v in status.items()):
            return
        try:
            updated = await self.client.patch(DaemonSet.Status, meta(ds)["name"],
                                              {"status": status},
                                              namespace=meta(ds)["namespace"],
                                              patch_type=PatchType.MERGE)
            self.sets.assume(updated.to_dict())
        except ApiError as exc:
            if exc.status.code != 404:
                raise
