"""The garbage collector: dependents follow their owners, as kube-controller-manager's does.

Each sync builds the ownership graph from every object of the known kinds:
- an object whose owners (of known kinds) are all gone is deleted (background);
- an owner with the `foregroundDeletion` finalizer has its dependents deleted
  and loses the finalizer once none is left;
- an owner with the `orphan` finalizer has its ownerReferences removed from
  its dependents, then loses the finalizer.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from typing import Any

from lightkube import ApiError, AsyncClient
from lightkube.types import PatchType

from portico.controllers._kinds import OWNED_KINDS

log = logging.getLogger("portico.controllers.gc")

FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"


@dataclass
class Node:
    kind: type
    obj: Any

    @property
    def uid(self) -> str:
        return str(self.obj.metadata.uid)

    @property
    def namespace(self) -> str | None:
        return self.obj.metadata.namespace

    @property
    def name(self) -> str:
        return str(self.obj.metadata.name)

    @property
    def owner_refs(self) -> list[Any]:
        return list(self.obj.metadata.ownerReferences or [])

    @property
    def finalizers(self) -> list[str]:
        return list(self.obj.metadata.finalizers or [])


_KNOWN_KINDS = {k._api_info.resource.kind for k in OWNED_KINDS}  # type: ignore[attr-defined]


class GarbageCollector:
    def __init__(self, client: AsyncClient) -> None:
        self.client = client

    async def _snapshot(self) -> list[Node]:
        nodes: list[Node] = []
        for kind in OWNED_KINDS:
            namespaced = "Namespaced" in kind.__mro__[1].__name__
            listing = self.client.list(kind, namespace="*") if namespaced else \
                self.client.list(kind)
            async for obj in listing:
                nodes.append(Node(kind, obj))
        return nodes

    async def sync(self) -> None:
        nodes = await self._snapshot()
        by_uid = {n.uid: n for n in nodes}
        dependents: dict[str, list[Node]] = {}
        for node in nodes:
            for ref in node.owner_refs:
                dependents.setdefault(ref.uid, []).append(node)
        for node in nodes:
            if node.obj.metadata.deletionTimestamp:
                await self._finish_owner(node, dependents.get(node.uid, []))
            elif self._orphaned(node, by_uid):
                await self._delete(node)

    @staticmethod
    def _orphaned(node: Node, by_uid: dict[str, Node]) -> bool:
        refs = [r for r in node.owner_refs if r.kind in _KNOWN_KINDS]
        return bool(refs) and all(r.uid not in by_uid for r in refs) and len(refs) == len(
            node.owner_refs)

    async def _finish_owner(self, owner: Node, deps: list[Node]) -> None:
        if FOREGROUND in owner.finalizers:
            pending = [d for d in deps if not d.obj.metadata.deletionTimestamp]
            for dep in pending:
                await self._delete(dep, "Foreground")
            if not deps:
                await self._drop_finalizer(owner, FOREGROUND)
        elif ORPHAN in owner.finalizers:
            for dep in deps:
                kept = [r.to_dict() for r in dep.owner_refs if r.uid != owner.uid]
                with contextlib.suppress(ApiError):
                    await self.client.patch(dep.kind, dep.name,
                                            {"metadata": {"ownerReferences": kept or None}},
                                            namespace=dep.namespace, patch_type=PatchType.MERGE)
            await self._drop_finalizer(owner, ORPHAN)

    async def _delete(self, node: Node, propagation: str = "Background") -> None:
        from lightkube.types import CascadeType

        cascade = CascadeType.FOREGROUND if propagation == "Foreground" else \
            CascadeType.BACKGROUND
        with contextlib.suppress(ApiError):
            await self.client.delete(node.kind, node.name, namespace=node.namespace,
                                     cascade=cascade)
            log.info("deleted %s %s/%s", node.kind.__name__, node.namespace, node.name)

    async def _drop_finalizer(self, node: Node, finalizer: str) -> None:
        kept = [f for f in node.finalizers if f != finalizer]
        patch = [{"op": "test", "path": "/metadata/finalizers", "value": node.finalizers},
                 {"op": "replace", "path": "/metadata/finalizers", "value": kept}]
        with contextlib.suppress(ApiError):
            await self.client.patch(node.kind, node.name, patch, namespace=node.namespace,
                                    patch_type=PatchType.JSON)
