"""The Deployment controller: ReplicaSets per template revision, rolled out step by step.

One sync of a Deployment (kube's `syncDeployment`), from the informer caches:
1. claim its ReplicaSets (controllerRef; adopt orphans the selector matches);
2. find the new ReplicaSet (template equal ignoring `pod-template-hash`) or, unless
   paused, create `<deployment>-<hash>`; stamp revision = max old revision + 1 (so
   `kubectl rollout undo`, which copies an old template back, reuses that old
   ReplicaSet and bumps its revision), desired-replicas and max-replicas;
3. RollingUpdate: scale the new ReplicaSet up within maxSurge, old ones down within
   maxUnavailable (see `_rollout`); Recreate: old ones to 0, and only when none of
   their pods is left running, the new one to `replicas`;
4. once complete, delete the oldest empty old ReplicaSets beyond revisionHistoryLimit;
5. write status and the Available/Progressing conditions; requeue at the progress
   deadline.
ReplicaSet or pod changes enqueue the owning Deployment; every write the
controller makes is written through to the informer cache.
"""

from __future__ import annotations

import datetime
import logging

from portico.client import ApiError, Obj, PatchType, key_of
from portico.controllers import _rollout as ro
from portico.controllers._controller import ControllerContext, QueuedController
from portico.controllers._pods import (
    controller_ref,
    involved,
    is_terminated,
    labels_of,
    meta,
    now_utc,
    owner_reference,
)
from portico.controllers._workload import delete_cached, patch_cached
from portico.model.kinds import DEPLOYMENT, POD, REPLICA_SET
from portico.model.selectors import label_selector_matches
from portico.model.vocabulary import EventType

log = logging.getLogger("portico.controllers.deployment")

COMPONENT = "deployment-controller"


def new_replicaset(d: Obj, hash_: str, replicas: int, rev: int) -> Obj:
    spec = d.get("spec") or {}
    template = ro.strip_hash(spec.get("template") or {})
    template.setdefault("metadata", {}).setdefault("labels", {})[ro.HASH_LABEL] = hash_
    selector = dict(spec.get("selector") or {})
    selector["matchLabels"] = dict(selector.get("matchLabels") or {}, **{ro.HASH_LABEL: hash_})
    surge, _ = ro.fenceposts(d)
    annotations = dict(ro.copied_annotations(d), **{
        ro.REVISION: str(rev), ro.DESIRED_REPLICAS: str(ro.spec_replicas(d)),
        ro.MAX_REPLICAS: str(ro.spec_replicas(d) + surge)})
    return {
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": f"{meta(d)['name']}-{hash_}", "namespace": meta(d)["namespace"],
                     "labels": dict(template["metadata"]["labels"]),
                     "annotations": annotations,
                     "ownerReferences": [owner_reference(d, DEPLOYMENT)]},
        "spec": {"replicas": replicas, "minReadySeconds": int(spec.get("minReadySeconds") or 0),
                 "selector": selector, "template": template},
    }


class DeploymentController(QueuedController):
    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx, COMPONENT, workers=4)
        self.deployments = self.watch(DEPLOYMENT, self.enqueue_current)
        self.replicasets = self.watch(REPLICA_SET, self._on_replicaset)
        self.pods = self.watch(POD, self._on_pod)

    def _on_replicaset(self, previous: Obj | None, current: Obj | None) -> None:
        for rs in (previous, current):
            ref = controller_ref(rs) if rs else None
            if rs is not None and ref is not None and ref.get("kind") == DEPLOYMENT.gvk.kind:
                self.queue.add(f"{meta(rs)['namespace']}/{ref['name']}")
            elif rs is not None and ref is None:
                for d in self.deployments.list(meta(rs)["namespace"]):
                    if label_selector_matches((d.get("spec") or {}).get("selector"), labels_of(rs)):
                        self.queue.add(key_of(d))

    def _on_pod(self, previous: Obj | None, current: Obj | None) -> None:
        # Recreate waits for old pods to go: a pod's deletion moves its Deployment on.
        if current is None and previous is not None:
            ref = controller_ref(previous)
            rs = self.replicasets.get(f"{meta(previous)['namespace']}/{ref['name']}") \
                if ref and ref.get("kind") == REPLICA_SET.gvk.kind else None
            owner = controller_ref(rs) if rs else None
            if rs is not None and owner is not None and owner.get("kind") == DEPLOYMENT.gvk.kind:
                self.queue.add(f"{meta(rs)['namespace']}/{owner['name']}")

    def claim(self, d: Obj) -> list[Obj]:
        uid = meta(d)["uid"]
        selector = (d.get("spec") or {}).get("selector")
        owned = []
        for rs in self.replicasets.list(meta(d)["namespace"]):
            ref = controller_ref(rs)
            if ref is not None and ref.get("uid") == uid:
                owned.append(rs)
            elif ref is None and selector and label_selector_matches(selector, labels_of(rs)):
                owned.append(rs)  # adopted below
        return owned

    async def sync(self, key: str) -> float | None:
        d = self.deployments.get(key)
        if d is None or meta(d).get("deletionTimestamp") or not self.replicasets.synced:
            return None
        rss = await self._adopt(d, self.claim(d))
        paused = bool((d.get("spec") or {}).get("paused"))
        new_rs = ro.find_new_rs(d, rss)
        created_new = False
        if new_rs is None and not paused:
            new_rs = await self._create_new_rs(d, rss)
            if new_rs is None:
                return 0.05  # hash collision: retry with the bumped collisionCount
            rss = [*rss, new_rs]
            created_new = True
        elif new_rs is not None:
            new_rs = await self._stamp_new_rs(d, new_rs, rss)
            rss = [new_rs if meta(r)["name"] == meta(new_rs)["name"] else r for r in rss]
        if not paused and new_rs is not None:
            rss = await self._rollout(d, rss, new_rs)
            new_rs = next(r for r in rss if meta(r)["name"] == meta(new_rs)["name"])
        return await self._sync_status(d, rss, new_rs, created_new, paused)

    async def _adopt(self, d: Obj, rss: list[Obj]) -> list[Obj]:
        out = []
        for rs in rss:
            if controller_ref(rs) is None:
                refs = [*(meta(rs).get("ownerReferences") or []),
                        owner_reference(d, DEPLOYMENT)]
                rs = await self._patch_rs(rs, {"metadata": {"ownerReferences": refs}})
            out.append(rs)
        return out

    async def _create_new_rs(self, d: Obj, rss: list[Obj]) -> Obj | None:
        collision = (d.get("status") or {}).get("collisionCount")
        hash_ = ro.template_hash((d.get("spec") or {}).get("template") or {}, collision)
        rev = max((ro.revision(r) for r in rss), default=0) + 1
        replicas = ro.new_rs_replicas(d, rss, {"spec": {"replicas": 0}})
        if (d.get("spec") or {}).get("strategy", {}).get("type") == ro.Strategy.RECREATE:
            replicas = 0
        body = new_replicaset(d, hash_, replicas, rev)
        try:
            created = await self.client.create(REPLICA_SET, body, namespace=meta(d)["namespace"])
        except ApiError as exc:
            if exc.status.code != 409:
                raise
            existing = self.replicasets.get(f"{meta(d)['namespace']}/{body['metadata']['name']}")
            if existing is not None and ro.equal_ignore_hash(
                    existing["spec"]["template"], d["spec"]["template"]):
                return existing
            await self._write_status(d, dict(d.get("status") or {},
                                             collisionCount=int(collision or 0) + 1))
            return None
        self.replicasets.assume(created)
        if replicas:
            await self.events.record(
                involved(DEPLOYMENT, d), EventType.NORMAL, "ScalingReplicaSet",
                f"Scaled up replica set {meta(created)['name']} to {replicas} from 0")
        return created

    async def _stamp_new_rs(self, d: Obj, new_rs: Obj, rss: list[Obj]) -> Obj:
        """Revision (max old + 1 when older), desired/max annotations, copied annotations."""
        old_max = max((ro.revision(r) for r in rss if r is not new_rs), default=0)
        annotations = dict(meta(new_rs).get("annotations") or {})
        wanted = dict(annotations, **ro.copied_annotations(d))
        if ro.revision(new_rs) <= old_max:
            wanted[ro.REVISION] = str(old_max + 1)
        surge, _ = ro.fenceposts(d)
        wanted[ro.DESIRED_REPLICAS] = str(ro.spec_replicas(d))
        wanted[ro.MAX_REPLICAS] = str(ro.spec_replicas(d) + surge)
        if wanted == annotations:
            return new_rs
        return await self._patch_rs(new_rs, {"metadata": {"annotations": wanted}})

    async def _rollout(self, d: Obj, rss: list[Obj], new_rs: Obj) -> list[Obj]:
        old = [r for r in rss if r is not new_rs and meta(r)["name"] != meta(new_rs)["name"]]
        by_name = {meta(r)["name"]: r for r in rss}
        if (d.get("spec") or {}).get("strategy", {}).get("type") == ro.Strategy.RECREATE:
            for rs in old:
                by_name[meta(rs)["name"]] = await self._scale(d, rs, 0)
            if not any(self._old_pods_running(r) for r in old):
                by_name[meta(new_rs)["name"]] = await self._scale(d, new_rs,
                                                                  ro.spec_replicas(d))
            return list(by_name.values())
        desired = ro.spec_replicas(d)
        target = desired if ro.spec_replicas(new_rs) > desired else \
            ro.new_rs_replicas(d, rss, new_rs)
        new_rs = by_name[meta(new_rs)["name"]] = await self._scale(d, new_rs, target)
        current = list(by_name.values())
        for name, replicas in ro.old_scale_down(d, current, old, new_rs).items():
            by_name[name] = await self._scale(d, by_name[name], replicas)
        return list(by_name.values())

    def _old_pods_running(self, rs: Obj) -> bool:
        uid = meta(rs)["uid"]
        for pod in self.pods.list(meta(rs)["namespace"]):
            ref = controller_ref(pod)
            if ref and ref.get("uid") == uid and not is_terminated(pod):
                return True
        return False

    async def _scale(self, d: Obj, rs: Obj, replicas: int) -> Obj:
        current = ro.spec_replicas(rs)
        surge, _ = ro.fenceposts(d)
        annotations = dict(meta(rs).get("annotations") or {})
        wanted = dict(annotations, **{ro.DESIRED_REPLICAS: str(ro.spec_replicas(d)),
                                      ro.MAX_REPLICAS: str(ro.spec_replicas(d) + surge)})
        if current == replicas and (replicas == 0 or wanted == annotations):
            return rs
        patch: Obj = {"spec": {"replicas": replicas}}
        if wanted != annotations:
            patch["metadata"] = {"annotations": wanted}
        updated = await self._patch_rs(rs, patch)
        if current != replicas:
            direction = "up" if replicas > current else "down"
            await self.events.record(
                involved(DEPLOYMENT, d), EventType.NORMAL, "ScalingReplicaSet",
                f"Scaled {direction} replica set {meta(rs)['name']} to {replicas} from {current}")
        return updated

    async def _patch_rs(self, rs: Obj, patch: Obj) -> Obj:
        updated = await self.client.patch(REPLICA_SET, meta(rs)["name"], patch,
                                          namespace=meta(rs)["namespace"],
                                          patch_type=PatchType.MERGE)
        self.replicasets.assume(updated)
        return updated

    async def _cleanup(self, d: Obj, rss: list[Obj], new_rs: Obj | None) -> None:
        limit = (d.get("spec") or {}).get("revisionHistoryLimit")
        if limit is None:
            return
        old = [r for r in rss if new_rs is None or meta(r)["name"] != meta(new_rs)["name"]]
        empty = [r for r in old if ro.spec_replicas(r) == 0 and
                 ro.status_count(r, "replicas") == 0 and not meta(r).get("deletionTimestamp")]
        excess = len(old) - int(limit)
        for rs in sorted(empty, key=lambda r: (ro.revision(r), ro.created(r)))[:max(excess, 0)]:
            await delete_cached(self.client, REPLICA_SET, self.replicasets, rs)

    async def _sync_status(self, d: Obj, rss: list[Obj], new_rs: Obj | None,
                           created_new: bool, paused: bool) -> float | None:
        now = now_utc()
        status = ro.calculate_status(d, rss, new_rs, now)
        conds = status["conditions"]
        name = meta(new_rs)["name"] if new_rs else ""
        prog = ro.condition(conds, "Progressing")
        if paused:
            if not prog or prog.get("reason") != ro.Reason.PAUSED:
                conds = ro.set_condition(conds, "Progressing", "Unknown", ro.Reason.PAUSED,
                                         "Deployment is paused", now)
        elif prog and prog.get("reason") == ro.Reason.PAUSED:
            conds = ro.set_condition(conds, "Progressing", "Unknown", ro.Reason.RESUMED,
                                     "Deployment is resumed", now)
        if not paused:
            conds = self._progress(d, status, conds, name, created_new, now)
        status["conditions"] = conds
        if not paused and ro.is_complete(d, status):
            await self._cleanup(d, rss, new_rs)
        if meta(d).get("annotations", {}).get(ro.REVISION) != (
                str(ro.revision(new_rs)) if new_rs else None) and new_rs is not None:
            annotations = dict(meta(d).get("annotations") or {},
                               **{ro.REVISION: str(ro.revision(new_rs))})
            d = await self.client.patch(DEPLOYMENT, meta(d)["name"],
                                        {"metadata": {"annotations": annotations}},
                                        namespace=meta(d)["namespace"],
                                        patch_type=PatchType.MERGE)
            self.deployments.assume(d)
        await self._write_status(d, status)
        deadline = (d.get("spec") or {}).get("progressDeadlineSeconds")
        if deadline and not paused and not ro.is_complete(d, status):
            return float(deadline) + 1.0
        return None

    @staticmethod
    def _progress(d: Obj, status: Obj, conds: list[Obj], name: str, created_new: bool,
                  now: datetime.datetime) -> list[Obj]:
        if created_new:
            return ro.set_condition(conds, "Progressing", "True", ro.Reason.NEW_RS_CREATED,
                                    f'Created new replica set "{name}"', now)
        if ro.is_complete(d, status):
            return ro.set_condition(conds, "Progressing", "True", ro.Reason.NEW_RS_AVAILABLE,
                                    f'ReplicaSet "{name}" has successfully progressed.', now)
        if ro.is_progressing(d, status):
            return ro.set_condition(conds, "Progressing", "True", ro.Reason.RS_UPDATED,
                                    f'ReplicaSet "{name}" is progressing.', now, refresh=True)
        if ro.timed_out(d, dict(status, conditions=conds), now):
            return ro.set_condition(conds, "Progressing", "False", ro.Reason.TIMED_OUT,
                                    f'ReplicaSet "{name}" has timed out progressing.', now)
        if ro.condition(conds, "Progressing") is None:
            return ro.set_condition(conds, "Progressing", "True", ro.Reason.FOUND_NEW_RS,
                                    f'Found new replica set "{name}"', now)
        return conds

    async def _write_status(self, d: Obj, status: Obj) -> None:
        current = d.get("status") or {}
        if current == status:
            return
        patch = {"status": {k: status.get(k) for k in set(current) | set(status)}}
        await patch_cached(self.client, DEPLOYMENT.status, self.deployments, d, patch)
