"""The namespace controller: empties a namespace being deleted, then finalizes it.

Level-triggered: every sync looks at all namespaces with a deletionTimestamp,
deletes what is still in them (built-in kinds and the custom kinds of every
Established CRD), and once nothing is left clears the `kubernetes`
finalizer through the `finalize` subresource, which removes the namespace.
"""

from __future__ import annotations

import contextlib
import logging

from portico.client import Api, ApiError, Obj
from portico.controllers._custom_kinds import custom_kinds
from portico.controllers._kinds import NAMESPACED_KINDS
from portico.model.kinds import CUSTOM_RESOURCE_DEFINITION, NAMESPACE

log = logging.getLogger("portico.controllers.namespace")
NAMESPACE_FINALIZE = NAMESPACE.sub("finalize")


class NamespaceController:
    def __init__(self, client: Api) -> None:
        self.client = client

    async def sync(self) -> bool:
        """Returns True while some namespace is still being emptied."""
        pending = False
        for ns in (await self.client.list(NAMESPACE)).items:
            if (ns.get("metadata") or {}).get("deletionTimestamp"):
                pending = await self._drain(ns) or pending
        return pending

    async def _drain(self, ns: Obj) -> bool:
        name = str(ns["metadata"]["name"])
        remaining = 0
        crds = (await self.client.list(CUSTOM_RESOURCE_DEFINITION)).items
        custom = custom_kinds(crds, namespaced_only=True).values()
        for kind in (*NAMESPACED_KINDS, *custom):
            for obj in (await self.client.list(kind, namespace=name)).items:
                remaining += 1
                if (obj.get("metadata") or {}).get("deletionTimestamp"):
                    continue
                with contextlib.suppress(ApiError):
                    await self.client.delete(kind, obj["metadata"]["name"], namespace=name)
        if remaining:
            return True
        spec_finalizers = (ns.get("spec") or {}).get("finalizers") or []
        if "kubernetes" in spec_finalizers:
            kept = [f for f in spec_finalizers if f != "kubernetes"]
            body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name},
                    "spec": {"finalizers": kept}}
            with contextlib.suppress(ApiError):
                await self.client.replace(NAMESPACE_FINALIZE, body)
            log.info("namespace %s emptied and finalized", name)
        return False
