"""The namespace controller: empties a namespace being deleted, then finalizes it.

Level-triggered: every sync looks at all namespaces with a deletionTimestamp,
deletes what is still in them (built-in kinds and the custom kinds of every
Established CRD), and once nothing is left clears the `kubernetes`
finalizer through the `finalize` subresource, which removes the namespace.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from lightkube import ApiError, AsyncClient
from lightkube.models.core_v1 import NamespaceSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition
from lightkube.resources.core_v1 import Namespace

from portico.controllers._custom_kinds import custom_kinds
from portico.controllers._kinds import NAMESPACED_KINDS

log = logging.getLogger("portico.controllers.namespace")


class NamespaceController:
    def __init__(self, client: AsyncClient) -> None:
        self.client = client

    async def sync(self) -> bool:
        """Returns True while some namespace is still being emptied."""
        pending = False
        async for ns in self.client.list(Namespace):
            if ns.metadata and ns.metadata.deletionTimestamp:
                pending = await self._drain(ns) or pending
        return pending

    async def _drain(self, ns: Namespace) -> bool:
        assert ns.metadata and ns.metadata.name
        name = ns.metadata.name
        remaining = 0
        crds = [crd.to_dict() async for crd in self.client.list(CustomResourceDefinition)]
        custom = custom_kinds(crds, namespaced_only=True).values()
        obj: Any
        for kind in (*NAMESPACED_KINDS, *custom):
            async for obj in self.client.list(kind, namespace=name):
                remaining += 1
                if obj.metadata.deletionTimestamp:
                    continue
                with contextlib.suppress(ApiError):
                    await self.client.delete(kind, obj.metadata.name, namespace=name)
        if remaining:
            return True
        spec_finalizers = (ns.spec.finalizers if ns.spec else None) or []
        if "kubernetes" in spec_finalizers:
            kept = [f for f in spec_finalizers if f != "kubernetes"]
            body = Namespace.Finalize(metadata=ObjectMeta(name=name),
                                      spec=NamespaceSpec(finalizers=kept))
            with contextlib.suppress(ApiError):
                await self.client.replace(body, name)
            log.info("namespace %s emptied and finalized", name)
        return False
