"""The garbage collector: dependents follow their owners, as kube-controller-manager's does.

Each sync builds the ownership graph from the shared informers' caches (no API
reads), for every object of the known kinds:
- an object whose owners (of known kinds) are all gone is deleted (background),
  after a live GET of each owner confirms it (the caches of different kinds are
  not in step: the owner may be newer than its informer's view, as kube's GC
  checks "virtual" owners against the API before deleting);
- an owner with the `foregroundDeletion` finalizer has its dependents deleted
  and loses the finalizer once none is left;
- an owner with the `orphan` finalizer has its ownerReferences removed from
  its dependents, then loses the finalizer.
Any change to an object of a known kind asks the coalescing runner for a sync.
The known kinds are the built-in ones and those of every Established
CustomResourceDefinition: a CRD informer adds (and drops) an informer per custom kind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from portico.client import (
    Api,
    ApiError,
    CascadeType,
    CoalescingRunner,
    Informer,
    InformerFactory,
    Obj,
    PatchType,
)
from portico.controllers._custom_kinds import custom_kinds
from portico.controllers._kinds import OWNED_KINDS
from portico.model.kinds import CUSTOM_RESOURCE_DEFINITION, Kind

log = logging.getLogger("portico.controllers.gc")

FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"
MIN_SYNC_INTERVAL = 0.1
RESYNC_INTERVAL = 30.0


@dataclass
class Node:
    kind: Kind
    obj: Obj

    @property
    def meta(self) -> Obj:
        return self.obj.get("metadata") or {}

    @property
    def uid(self) -> str:
        return str(self.meta.get("uid"))

    @property
    def namespace(self) -> str | None:
        return self.meta.get("namespace")

    @property
    def name(self) -> str:
        return str(self.meta.get("name"))

    @property
    def owner_refs(self) -> list[Obj]:
        return list(self.meta.get("ownerReferences") or [])

    @property
    def finalizers(self) -> list[str]:
        return list(self.meta.get("finalizers") or [])

    @property
    def deleting(self) -> bool:
        return bool(self.meta.get("deletionTimestamp"))


_KINDS_BY_NAME: dict[str, Kind] = {kind.gvk.kind: kind for kind in OWNED_KINDS}


class GarbageCollector:
    def __init__(self, client: Api, informers: InformerFactory) -> None:
        self.client = client
        self.factory = informers
        self.kinds_by_name = dict(_KINDS_BY_NAME)
        self.informers = [(kind, informers.informer(kind)) for kind in OWNED_KINDS]
        self.custom: dict[str, tuple[Kind, Informer]] = {}
        self.runner = CoalescingRunner("garbage-collector", self.sync, MIN_SYNC_INTERVAL,
                                       RESYNC_INTERVAL)
        for _kind, informer in self.informers:
            informer.add_handler(lambda _previous, _current: self.runner.run())
        self.crds = informers.informer(CUSTOM_RESOURCE_DEFINITION)
        self.crds.add_handler(lambda _previous, _current: self._crds_changed())

    def _crds_changed(self) -> None:
        """Follow the custom kinds: an informer for each new one, none for removed ones."""
        wanted = custom_kinds(self.crds.list())
        for name in [n for n in self.custom if self.custom[n][0] != wanted.get(n)]:
            kind, informer = self.custom.pop(name)
            self.informers.remove((kind, informer))
            self.kinds_by_name.pop(kind.gvk.kind, None)
            asyncio.get_running_loop().create_task(informer.stop())
        for name, kind in wanted.items():
            if name in self.custom:
                continue
            informer = Informer(self.client, kind)
            informer.add_handler(lambda _previous, _current: self.runner.run())
            self.custom[name] = (kind, informer)
            self.informers.append((kind, informer))
            self.kinds_by_name[kind.gvk.kind] = kind
            informer.start()
        self.runner.run()

    def _snapshot(self) -> list[Node] | None:
        if not self.crds.synced or not all(informer.synced for _kind, informer in self.informers):
            return None
        return [Node(kind, obj) for kind, informer in self.informers for obj in informer.list()]

    async def sync(self) -> None:
        nodes = self._snapshot()
        if nodes is None:
            return
        by_uid = {n.uid: n for n in nodes}
        dependents: dict[str, list[Node]] = {}
        for node in nodes:
            for ref in node.owner_refs:
                dependents.setdefault(str(ref.get("uid")), []).append(node)
        for node in nodes:
            if node.deleting:
                await self._finish_owner(node, dependents.get(node.uid, []))
            elif self._orphaned(node, by_uid) and not await self._any_owner_alive(node):
                await self._delete(node)

    def _orphaned(self, node: Node, by_uid: dict[str, Node]) -> bool:
        refs = [r for r in node.owner_refs if r.get("kind") in self.kinds_by_name]
        return bool(refs) and all(r.get("uid") not in by_uid for r in refs) and len(refs) == len(
            node.owner_refs)

    async def _any_owner_alive(self, node: Node) -> bool:
        for ref in node.owner_refs:
            kind = self.kinds_by_name.get(ref["kind"])
            if kind is None:
                return True  # its kind is gone from the API: keep the dependent
            try:
                owner = await self.client.get(kind, ref.get("name", ""),
                                              namespace=node.namespace if kind.namespaced else None)
            except ApiError as error:
                if error.status.code == 404:
                    continue
                return True  # unsure: keep the dependent
            if (owner.get("metadata") or {}).get("uid") == ref.get("uid"):
                return True
        return False

    async def _finish_owner(self, owner: Node, deps: list[Node]) -> None:
        if FOREGROUND in owner.finalizers:
            for dep in [d for d in deps if not d.deleting]:
                await self._delete(dep, CascadeType.FOREGROUND)
            if not deps:
                await self._drop_finalizer(owner, FOREGROUND)
        elif ORPHAN in owner.finalizers:
            for dep in deps:
                kept = [r for r in dep.owner_refs if r.get("uid") != owner.uid]
                with contextlib.suppress(ApiError):
                    await self.client.patch(dep.kind, dep.name,
                                            {"metadata": {"ownerReferences": kept or None}},
                                            namespace=dep.namespace, patch_type=PatchType.MERGE)
            await self._drop_finalizer(owner, ORPHAN)

    async def _delete(self, node: Node, cascade: CascadeType = CascadeType.BACKGROUND) -> None:
        with contextlib.suppress(ApiError):
            await self.client.delete(node.kind, node.name, namespace=node.namespace,
                                     cascade=cascade)
            log.info("deleted %s %s/%s", node.kind.name, node.namespace, node.name)

    async def _drop_finalizer(self, node: Node, finalizer: str) -> None:
        kept = [f for f in node.finalizers if f != finalizer]
        patch = [{"op": "test", "path": "/metadata/finalizers", "value": node.finalizers},
                 {"op": "replace", "path": "/metadata/finalizers", "value": kept}]
        with contextlib.suppress(ApiError):
            await self.client.patch(node.kind, node.name, patch, namespace=node.namespace,
                                    patch_type=PatchType.JSON)
