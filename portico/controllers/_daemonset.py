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

from portico.client import Obj, key_of
from portico.controllers import _daemonset_plan as dp
from portico.controllers._controller import ControllerContext, QueuedController
from portico.controllers._history import History
from portico.controllers._podcontrol import PodControl, pod_from_template
from portico.controllers._pods import is_terminating, meta, now_utc
from portico.controllers._statefulset_plan import revision_of
from portico.controllers._workload import controlled_by, write_status
from portico.model.kinds import CONTROLLER_REVISION, DAEMON_SET, NODE, POD

log = logging.getLogger("portico.controllers.daemonset")

COMPONENT = "daemonset-controller"


def revision_hash(revision: Obj) -> str:
    return str(meta(revision)["name"]).rsplit("-", 1)[-1]


def new_pod(ds: Obj, node: str, hash_: str) -> Obj:
    template = (ds.get("spec") or {}).get("template") or {}
    pod = pod_from_template(ds, DAEMON_SET, template)
    pod["metadata"]["labels"][dp.REVISION_LABEL] = hash_
    pod["spec"] = dp.pin_to_node(dp.daemon_pod_spec(pod["spec"]), node)
    return pod


class DaemonSetController(QueuedController):
    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx, COMPONENT, workers=2)
        self.sets = self.watch(DAEMON_SET, self.enqueue_current)
        self.nodes = self.watch(NODE, lambda _p, _c: self._enqueue_all())
        self.pods = self.watch(POD, self.enqueue_owner(DAEMON_SET))
        self.history = History(self.client, ctx.informers.informer(CONTROLLER_REVISION), DAEMON_SET)
        self.control = PodControl(self.client, self.pods, self.events, DAEMON_SET)

    def _enqueue_all(self) -> None:
        for ds in self.sets.list():
            self.queue.add(key_of(ds))

    def _owned_pods(self, ds: Obj) -> list[Obj]:
        return [p for p in controlled_by(self.pods.list(meta(ds)["namespace"]), ds)
                if not is_terminating(p)]

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
        await write_status(self.client, DAEMON_SET, self.sets, ds,
                           dp.status(view, int(meta(ds).get("generation") or 1)))
        in_use = {meta(update)["name"]} | {
            f"{meta(ds)['name']}-{revision_of(p)}" for p in view.pods}
        limit = int((ds.get("spec") or {}).get("revisionHistoryLimit", 10))
        await self.history.truncate(ds, in_use, limit)
        return float(view.min_ready) if view.min_ready else None  # availability changes
