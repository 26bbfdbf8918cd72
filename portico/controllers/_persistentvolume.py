"""The PersistentVolume controller and the local-directory provisioner.

kube-controller-manager's PV binder plus rancher's local-path-provisioner, one
work queue (keys `claim:<ns>/<name>` and `volume:<name>`):

Claims.  A claim without `storageClassName` gets the default StorageClass (the one
annotated `storageclass.kubernetes.io/is-default-class`, as the PV controller's
retroactive defaulting does).  An unbound claim binds, in order, to the PV its
`volumeName` names, to the smallest Available PV of its class with enough capacity
and the access modes it asks for, or to a new PV from its class's provisioner.
Binding: the PV's `claimRef` and `phase: Bound`, then the claim's `volumeName`
(with `pv.kubernetes.io/bind-completed`) and `status` (Bound, capacity, access
modes).  `WaitForFirstConsumer`: nothing happens (a `WaitForFirstConsumer` event)
until the scheduler picked a node for a pod using the claim and wrote it into the
`volume.kubernetes.io/selected-node` annotation.

Provisioning (`rancher.io/local-path`, Portico's default class): a directory
`<data dir>/nodes/<node>/storage/pvc-<uid>_<namespace>_<name>` (mode 0777) and a PV
`pvc-<claim uid>` with a `hostPath` to it, `nodeAffinity` on that node's hostname,
the class's reclaim policy and the claim's size.  The directory is on the machine,
so data survives pods and `portico up` restarts.

Volumes.  A PV whose claim is gone is `Released`; with reclaim policy `Delete` its
directory and the PV are deleted, with `Retain` both stay.  A PV without a claim is
`Available`.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from pathlib import Path
from typing import Any

from portico.client import ApiError, Obj, PatchType, key_of
from portico.controllers._controller import ControllerContext, QueuedController
from portico.controllers._pods import involved
from portico.model.kinds import NODE, PERSISTENT_VOLUME, PERSISTENT_VOLUME_CLAIM, STORAGE_CLASS
from portico.model.quantity import parse_quantity
from portico.model.vocabulary import EventType

log = logging.getLogger("portico.controllers.persistentvolume")
COMPONENT = "persistentvolume-controller"
LOCAL_PROVISIONER = "rancher.io/local-path"
DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class"
SELECTED_NODE = "volume.kubernetes.io/selected-node"
HOSTNAME_LABEL = "kubernetes.io/hostname"
CLAIM, VOLUME = "claim:", "volume:"
WAITING = "waiting for first consumer to be created before binding"


def _spec(obj: Obj) -> Obj:
    return dict(obj.get("spec") or {})


def _meta(obj: Obj) -> Obj:
    return dict(obj.get("metadata") or {})


def _storage(obj: Obj, *path: str) -> Any:
    cur: Any = obj
    for step in path:
        cur = (cur or {}).get(step)
    return parse_quantity(cur or 0)


def is_bound(claim: Obj) -> bool:
    return bool(_spec(claim).get("volumeName")) and \
        (claim.get("status") or {}).get("phase") == "Bound"


def matching_volume(claim: Obj, volumes: list[Obj]) -> Obj | None:
    """The smallest Available PV of the claim's class that fits it (static binding)."""
    spec = _spec(claim)
    wanted = _storage(claim, "spec", "resources", "requests", "storage")
    fitting = [v for v in volumes
               if not _spec(v).get("claimRef")
               and (_spec(v).get("storageClassName") or "") == (spec.get("storageClassName") or "")
               and set(spec.get("accessModes") or []) <= set(_spec(v).get("accessModes") or [])
               and _storage(v, "spec", "capacity", "storage") >= wanted]
    return min(fitting, key=lambda v: _storage(v, "spec", "capacity", "storage"), default=None)


def local_volume(claim: Obj, storage_class: Obj, node: str, data_dir: Path) -> Obj:
    """The PV the local-path provisioner makes for `claim` on `node` (pure)."""
    meta, spec = _meta(claim), _spec(claim)
    path = data_dir / "nodes" / node / "storage" / \
        f"pvc-{meta['uid']}_{meta['namespace']}_{meta['name']}"
    return {
        "apiVersion": "v1", "kind": "PersistentVolume",
        "metadata": {"name": f"pvc-{meta['uid']}",
                     "annotations": {"pv.kubernetes.io/provisioned-by": LOCAL_PROVISIONER,
                                     "local.path.provisioner/selected-node": node}},
        "spec": {
            "capacity": {"storage": spec["resources"]["requests"]["storage"]},
            "accessModes": spec.get("accessModes") or ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": storage_class.get("reclaimPolicy") or "Delete",
            "storageClassName": _meta(storage_class)["name"],
            "volumeMode": spec.get("volumeMode") or "Filesystem",
            "hostPath": {"path": str(path), "type": "DirectoryOrCreate"},
            "claimRef": _claim_ref(claim),
            "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                {"key": HOSTNAME_LABEL, "operator": "In", "values": [node]}]}]}},
        },
    }


def _claim_ref(claim: Obj) -> Obj:
    meta = _meta(claim)
    return {"kind": "PersistentVolumeClaim", "apiVersion": "v1", "namespace": meta["namespace"],
            "name": meta["name"], "uid": meta["uid"],
            "resourceVersion": meta.get("resourceVersion", "")}


class PersistentVolumeController(QueuedController):
    def __init__(self, ctx: ControllerContext, data_dir: Path) -> None:
        super().__init__(ctx, "persistentvolume", workers=1, component=COMPONENT)
        self.data_dir = data_dir
        self.claims = self.watch(PERSISTENT_VOLUME_CLAIM, self._on_claim)
        self.volumes = self.watch(PERSISTENT_VOLUME, self._on_volume)
        self.classes = self.watch(STORAGE_CLASS, lambda _p, _c: self._requeue_claims())
        self.nodes = ctx.informers.informer(NODE)

    def _on_claim(self, previous: Obj | None, current: Obj | None) -> None:
        obj = current or previous or {}
        self.queue.add(CLAIM + key_of(obj))
        if _spec(obj).get("volumeName"):
            self.queue.add(VOLUME + _spec(obj)["volumeName"])

    def _on_volume(self, previous: Obj | None, current: Obj | None) -> None:
        obj = current or previous or {}
        self.queue.add(VOLUME + _meta(obj).get("name", ""))
        ref = _spec(obj).get("claimRef") or {}
        if ref.get("name"):
            self.queue.add(f"{CLAIM}{ref.get('namespace')}/{ref['name']}")

    def _requeue_claims(self) -> None:
        for key in self.claims.list_keys():
            self.queue.add(CLAIM + key)

    async def sync(self, key: str) -> float | None:
        try:
            if key.startswith(CLAIM):
                return await self._sync_claim(key.removeprefix(CLAIM))
            return await self._sync_volume(key.removeprefix(VOLUME))
        except ApiError as error:
            if error.status.code in (404, 409):
                return 0.5
            raise

    def _default_class(self) -> Obj | None:
        defaults = [c for c in self.classes.list()
                    if (_meta(c).get("annotations") or {}).get(DEFAULT_CLASS) == "true"]
        return max(defaults, key=lambda c: _meta(c).get("creationTimestamp", ""), default=None)

    async def _sync_claim(self, key: str) -> float | None:
        claim = self.claims.get(key)
        if claim is None or is_bound(claim) or _meta(claim).get("deletionTimestamp"):
            return None
        spec, meta = _spec(claim), _meta(claim)
        if "storageClassName" not in spec or spec["storageClassName"] is None:
            default = self._default_class()
            if default is not None:
                await self.client.patch(
                    PERSISTENT_VOLUME_CLAIM, meta["name"],
                    {"spec": {"storageClassName": _meta(default)["name"]}},
                    namespace=meta["namespace"], patch_type=PatchType.MERGE)
            return None
        named = self.volumes.get(spec["volumeName"]) if spec.get("volumeName") else None
        volume = named or matching_volume(claim, self.volumes.list())
        if volume is not None:
            await self._bind(volume, claim)
            return None
        return await self._provision(claim)

    async def _provision(self, claim: Obj) -> float | None:
        spec, meta = _spec(claim), _meta(claim)
        involved_claim = involved(PERSISTENT_VOLUME_CLAIM, claim)
        class_name = spec.get("storageClassName") or ""
        storage_class = self.classes.get(class_name) if class_name else None
        if storage_class is None:
            message = ("no persistent volumes available for this claim and no storage class "
                       "is set") if not class_name else \
                f'storageclass.storage.k8s.io "{class_name}" not found'
            self.events.emit(involved_claim, EventType.WARNING,
                             "FailedBinding" if not class_name else "ProvisioningFailed", message)
            return None
        if storage_class.get("provisioner") != LOCAL_PROVISIONER:
            self.events.emit(involved_claim, EventType.NORMAL, "ExternalProvisioning",
                             "Waiting for a volume to be created either by the external "
                             f"provisioner '{storage_class.get('provisioner')}' or manually "
                             "by the system administrator. If volume creation is delayed, "
                             "please verify that the provisioner is running and correctly "
                             "registered.")
            return None
        node = (meta.get("annotations") or {}).get(SELECTED_NODE)
        if storage_class.get("volumeBindingMode") == "WaitForFirstConsumer" and not node:
            self.events.emit(involved_claim, EventType.NORMAL, "WaitForFirstConsumer", WAITING)
            return None
        node = node or min((_meta(n)["name"] for n in self.nodes.list()), default=None)
        if node is None:
            return 1.0
        self.events.emit(involved_claim, EventType.NORMAL, "Provisioning",
                         f'External provisioner is provisioning volume for claim '
                         f'"{meta["namespace"]}/{meta["name"]}"')
        volume = local_volume(claim, storage_class, node, self.data_dir)
        await asyncio.to_thread(Path(volume["spec"]["hostPath"]["path"]).mkdir, 0o777, True,
                                True)
        await asyncio.to_thread(Path(volume["spec"]["hostPath"]["path"]).chmod, 0o777)
        try:
            created = await self.client.create(PERSISTENT_VOLUME, volume)
        except ApiError as error:
            if error.status.code != 409:
                raise
            created = await self.client.get(PERSISTENT_VOLUME, volume["metadata"]["name"])
        self.events.emit(involved_claim, EventType.NORMAL, "ProvisioningSucceeded",
                         f"Successfully provisioned volume {volume['metadata']['name']}")
        await self._bind(created, claim)
        return None

    async def _bind(self, volume: Obj, claim: Obj) -> None:
        name, meta = _meta(volume)["name"], _meta(claim)
        if (_spec(volume).get("claimRef") or {}).get("uid") != meta["uid"]:
            await self.client.patch(PERSISTENT_VOLUME, name,
                                    {"spec": {"claimRef": _claim_ref(claim)}},
                                    patch_type=PatchType.MERGE)
        await self._volume_phase(name, "Bound")
        await self.client.patch(
            PERSISTENT_VOLUME_CLAIM, meta["name"],
            {"metadata": {"annotations": {"pv.kubernetes.io/bind-completed": "yes",
                                          "pv.kubernetes.io/bound-by-controller": "yes"}},
             "spec": {"volumeName": name}}, namespace=meta["namespace"],
            patch_type=PatchType.MERGE)
        status = {"phase": "Bound", "accessModes": _spec(volume).get("accessModes"),
                  "capacity": _spec(volume).get("capacity")}
        await self.client.patch(PERSISTENT_VOLUME_CLAIM.status, meta["name"], {"status": status},
                                namespace=meta["namespace"], patch_type=PatchType.MERGE)

    async def _volume_phase(self, name: str, phase: str) -> None:
        await self.client.patch(PERSISTENT_VOLUME.status, name, {"status": {"phase": phase}},
                                patch_type=PatchType.MERGE)

    async def _sync_volume(self, name: str) -> float | None:
        volume = self.volumes.get(name)
        if volume is None:
            return None
        phase = (volume.get("status") or {}).get("phase")
        ref = _spec(volume).get("claimRef") or {}
        if not ref.get("name"):
            if phase != "Available":
                await self._volume_phase(name, "Available")
            return None
        claim = self.claims.get(f"{ref.get('namespace')}/{ref['name']}")
        if claim is not None and ref.get("uid") in (None, "", _meta(claim).get("uid")):
            return None
        if phase != "Released":
            await self._volume_phase(name, "Released")
        if _spec(volume).get("persistentVolumeReclaimPolicy") == "Delete":
            await self._delete(volume)
        return None

    async def _delete(self, volume: Obj) -> None:
        """Reclaim policy Delete: the provisioned directory, then the PV."""
        annotations = _meta(volume).get("annotations") or {}
        path = (_spec(volume).get("hostPath") or {}).get("path")
        if annotations.get("pv.kubernetes.io/provisioned-by") == LOCAL_PROVISIONER and path \
                and Path(path).is_relative_to(self.data_dir):
            await asyncio.to_thread(shutil.rmtree, path, True)
        await self.client.delete(PERSISTENT_VOLUME, _meta(volume)["name"])
        log.info("deleted released volume %s", _meta(volume)["name"])
