"""The StatefulSet controller: stable names, ordered pods, claims and revisions.

One sync of a StatefulSet, from the informer caches:
1. its revisions (`_history`): the update revision is the current template's, the
   current revision is `status.currentRevision` (the update revision at first);
2. its pods by ordinal (`<sts>-<ordinal>`, controlled by it);
3. `_statefulset_plan.plan` says which ordinals to create and which pods to delete;
   a new pod gets its revision's template, the `controller-revision-hash`,
   `statefulset.kubernetes.io/pod-name` and `apps.kubernetes.io/pod-index` labels,
   `hostname` = its name and `subdomain` = `serviceName` (so the headless Service's
   DNS gives `<pod>.<service>.<ns>.svc.cluster.local`), and one
   persistentVolumeClaim volume per `volumeClaimTemplates` entry, whose claim
   `<template>-<sts>-<ordinal>` is created first unless it exists. Claims are owned
   by the StatefulSet when `whenDeleted: Delete`, and by a condemned pod when
   `whenScaled: Delete` (the garbage collector deletes them with their owner);
4. status, then revisions beyond `revisionHistoryLimit` that no pod uses go.
Events are worded as kube's (`create Pod web-0 in StatefulSet web successful`).
"""

from __future__ import annotations

import copy
import logging

from portico.client import ApiError, Obj, PatchType
from portico.controllers import _statefulset_plan as sp
from portico.controllers._controller import ControllerContext, QueuedController
from portico.controllers._history import History, template_of
from portico.controllers._podcontrol import PodControl, pod_from_template
from portico.controllers._pods import involved, meta, now_utc, owner_reference
from portico.controllers._workload import controlled_by, write_status
from portico.model.kinds import CONTROLLER_REVISION, PERSISTENT_VOLUME_CLAIM, POD, STATEFUL_SET
from portico.model.vocabulary import EventType

log = logging.getLogger("portico.controllers.statefulset")

COMPONENT = "statefulset-controller"


class _StatefulPodControl(PodControl):
    def message(self, verb: str, owner: Obj, pod: Obj) -> str:
        action = "create" if verb == "Created" else "delete"
        return f"{action} Pod {meta(pod)['name']} in StatefulSet {meta(owner)['name']} successful"


def claim_name(template: Obj, sts: Obj, ordinal: int) -> str:
    return f"{meta(template).get('name')}-{meta(sts)['name']}-{ordinal}"


def claim_body(sts: Obj, claim: Obj, ordinal: int) -> Obj:
    """The PersistentVolumeClaim of one template and ordinal (labels: the selector's)."""
    spec = sts.get("spec") or {}
    labels = dict(meta(claim).get("labels") or {},
                  **((spec.get("selector") or {}).get("matchLabels") or {}))
    body: Obj = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                 "metadata": {"name": claim_name(claim, sts, ordinal),
                              "namespace": meta(sts)["namespace"], "labels": labels},
                 "spec": copy.deepcopy(claim.get("spec") or {})}
    retention = spec.get("persistentVolumeClaimRetentionPolicy") or {}
    if retention.get("whenDeleted") == "Delete":
        ref = dict(owner_reference(sts, STATEFUL_SET), controller=False)
        body["metadata"]["ownerReferences"] = [ref]
    return body


def new_pod(sts: Obj, template: Obj, ordinal: int, revision: str) -> Obj:
    name = f"{meta(sts)['name']}-{ordinal}"
    pod = pod_from_template(sts, STATEFUL_SET, template, name=name)
    pod["metadata"]["labels"].update({sp.REVISION_LABEL: revision, sp.POD_NAME_LABEL: name,
                                      sp.POD_INDEX_LABEL: str(ordinal)})
    spec = pod["spec"]
    spec["hostname"] = name
    service = (sts.get("spec") or {}).get("serviceName")
    if service:
        spec["subdomain"] = service
    claims = (sts.get("spec") or {}).get("volumeClaimTemplates") or []
    names = {meta(c).get("name") for c in claims}
    volumes = [v for v in spec.get("volumes") or [] if v.get("name") not in names]
    for claim in claims:
        volumes.append({"name": meta(claim).get("name"), "persistentVolumeClaim": {
            "claimName": claim_name(claim, sts, ordinal)}})
    if volumes:
        spec["volumes"] = volumes
    return pod


class StatefulSetController(QueuedController):
    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx, COMPONENT, workers=4)
        self.sets = self.watch(STATEFUL_SET, self.enqueue_current)
        self.pods = self.watch(POD, self.enqueue_owner(STATEFUL_SET))
        revisions = ctx.informers.informer(CONTROLLER_REVISION)
        self.history = History(self.client, revisions, STATEFUL_SET)
        self.control = _StatefulPodControl(self.client, self.pods, self.events, STATEFUL_SET)

    def _pods_by_ordinal(self, sts: Obj) -> dict[int, Obj]:
        out: dict[int, Obj] = {}
        for pod in controlled_by(self.pods.list(meta(sts)["namespace"]), sts):
            ordinal = sp.ordinal_of(meta(sts)["name"], meta(pod).get("name", ""))
            if ordinal is not None:
                out[ordinal] = pod
        return out

    async def sync(self, key: str) -> float | None:
        sts = self.sets.get(key)
        if sts is None or meta(sts).get("deletionTimestamp") or not self.pods.synced:
            return None
        spec = sts.get("spec") or {}
        template = spec.get("template") or {}
        update = await self.history.ensure(sts, template, (template.get("metadata") or {})
                                           .get("labels") or {})
        revisions = {meta(r)["name"]: r for r in self.history.owned(sts)}
        current_name = (sts.get("status") or {}).get("currentRevision") or meta(update)["name"]
        current = revisions.get(current_name, update)
        view = sp.View(sts, self._pods_by_ordinal(sts), meta(current)["name"],
                       meta(update)["name"], now_utc())
        result = sp.plan(view)
        for ordinal in result.create:
            revision = update if sp.revision_for(view, ordinal) == meta(update)["name"] \
                else current
            await self._create(sts, ordinal, revision)
        for pod in result.delete:
            await self._condemn_claims(sts, pod, view)
            await self.control.delete(sts, pod)
        view = sp.View(sts, self._pods_by_ordinal(sts), view.current_revision,
                       view.update_revision, now_utc())
        status = sp.status(view, int(meta(sts).get("generation") or 1))
        await write_status(self.client, STATEFUL_SET, self.sets, sts, status)
        in_use = {sp.revision_of(p) for p in view.pods.values()}
        in_use |= {status["currentRevision"], status["updateRevision"]}
        await self.history.truncate(sts, in_use, int(spec.get("revisionHistoryLimit", 10)))
        min_ready = float(spec.get("minReadySeconds") or 0)
        if min_ready and status["readyReplicas"] > status["availableReplicas"]:
            return min_ready  # pods become available with time alone
        return None

    async def _create(self, sts: Obj, ordinal: int, revision: Obj) -> None:
        for claim in (sts.get("spec") or {}).get("volumeClaimTemplates") or []:
            await self._ensure_claim(sts, claim, ordinal)
        pod = new_pod(sts, template_of(revision), ordinal, meta(revision)["name"])
        try:
            await self.control.create(sts, pod)
        except ApiError as exc:
            if exc.status.code != 409:
                raise

    async def _ensure_claim(self, sts: Obj, claim: Obj, ordinal: int) -> None:
        body = claim_body(sts, claim, ordinal)
        try:
            await self.client.create(PERSISTENT_VOLUME_CLAIM, body,
                                     namespace=meta(sts)["namespace"])
        except ApiError as exc:
            if exc.status.code == 404:  # PersistentVolumeClaims are not served
                log.debug("no PersistentVolumeClaim API: %s", exc.status.message)
                return
            if exc.status.code != 409:
                raise
            return
        await self.events.record(involved(STATEFUL_SET, sts), EventType.NORMAL, "SuccessfulCreate",
                                 f"create Claim {body['metadata']['name']} Pod "
                                 f"{meta(sts)['name']}-{ordinal} in StatefulSet "
                                 f"{meta(sts)['name']} success")

    async def _condemn_claims(self, sts: Obj, pod: Obj, view: sp.View) -> None:
        """`whenScaled: Delete`: a pod leaving the range takes its claims with it."""
        retention = (sts.get("spec") or {}).get("persistentVolumeClaimRetentionPolicy") or {}
        ordinal = sp.ordinal_of(meta(sts)["name"], meta(pod)["name"])
        if retention.get("whenScaled") != "Delete" or ordinal is None \
                or ordinal in view.in_range():
            return
        refs = [dict(owner_reference(pod, POD), controller=False)]
        if retention.get("whenDeleted") == "Delete":  # the set stays an owner too
            refs.append(dict(owner_reference(sts, STATEFUL_SET), controller=False))
        for claim in (sts.get("spec") or {}).get("volumeClaimTemplates") or []:
            try:
                await self.client.patch(PERSISTENT_VOLUME_CLAIM, claim_name(claim, sts, ordinal),
                                        {"metadata": {"ownerReferences": refs}},
                                        namespace=meta(sts)["namespace"],
                                        patch_type=PatchType.MERGE)
            except ApiError as exc:
                if exc.status.code != 404:
                    raise
