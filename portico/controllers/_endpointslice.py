"""The EndpointSlice controller, and the legacy Endpoints controller beside it.

For each Service with a selector (not ExternalName, not `default/kubernetes`,
whose Endpoints the API server owns), one sync renders the desired slices and
Endpoints from the informer caches (`_slices`) and applies only the difference:
slices are created with generateName `<service>-`, updated in place with the
resourceVersion they were read at (a conflict just retries the key), and deleted
when no longer needed. Services without a selector keep whatever slices and
Endpoints users wrote; a Service that gains one again is managed from then on.

Events that enqueue a Service: the Service itself, any pod whose old or new
labels its selector matches, its slices or Endpoints (repairing edits), and a
node's zone label changing (every Service, zones are rare to change).
"""

from __future__ import annotations

import asyncio
import logging

from portico.client import Obj, key_of, split_key
from portico.controllers import _slices as sl
from portico.controllers._controller import ControllerContext, QueuedController
from portico.controllers._pods import labels_of, meta, now_utc, rfc3339
from portico.controllers._workload import delete_cached
from portico.model.discovery import SERVICE_NAME_LABEL
from portico.model.kinds import ENDPOINT_SLICE, ENDPOINTS, NODE, POD, SERVICE
from portico.model.selectors import service_selector
from portico.model.vocabulary import ServiceType

log = logging.getLogger("portico.controllers.endpointslice")

ZONE_LABEL = "topology.kubernetes.io/zone"
_API_SERVER_OWNED = ("default/kubernetes",)


def managed(service: Obj | None) -> bool:
    if service is None or key_of(service) in _API_SERVER_OWNED:
        return False
    spec = service.get("spec") or {}
    return bool(spec.get("selector")) and spec.get("type") != ServiceType.EXTERNAL_NAME


class EndpointSliceController(QueuedController):
    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx, "endpointslice-controller", workers=4)
        self.services = self.watch(SERVICE, self.enqueue)
        self.pods = self.watch(POD, self._on_pod)
        self.nodes = self.watch(NODE, self._on_node)
        self.slices = self.watch(ENDPOINT_SLICE, self._on_slice)
        self.endpoints = self.watch(ENDPOINTS, self.enqueue)

    def _on_pod(self, previous: Obj | None, current: Obj | None) -> None:
        pod = current or previous or {}
        labels = [labels_of(p) for p in (previous, current) if p is not None]
        for svc in self.services.list(meta(pod).get("namespace")):
            selector = service_selector((svc.get("spec") or {}).get("selector"))
            if any(selector.matches(lb) for lb in labels):
                self.queue.add(key_of(svc))

    def _on_node(self, previous: Obj | None, current: Obj | None) -> None:
        zone = (labels_of(previous).get(ZONE_LABEL) if previous else None,
                labels_of(current).get(ZONE_LABEL) if current else None)
        if zone[0] != zone[1]:
            for svc in self.services.list():
                self.queue.add(key_of(svc))

    def _on_slice(self, previous: Obj | None, current: Obj | None) -> None:
        s = current or previous or {}
        name = labels_of(s).get(SERVICE_NAME_LABEL)
        if name and labels_of(s).get(sl.MANAGED_BY_LABEL) == sl.MANAGED_BY:
            self.queue.add(f"{meta(s)['namespace']}/{name}")

    def zones(self) -> dict[str, str]:
        return {meta(n)["name"]: labels_of(n)[ZONE_LABEL] for n in self.nodes.list()
                if ZONE_LABEL in labels_of(n)}

    def owned_slices(self, namespace: str, name: str) -> list[Obj]:
        return [s for s in self.slices.list(namespace)
                if labels_of(s).get(SERVICE_NAME_LABEL) == name
                and labels_of(s).get(sl.MANAGED_BY_LABEL) == sl.MANAGED_BY]

    async def sync(self, key: str) -> float | None:
        namespace, name = split_key(key)
        assert namespace is not None
        service = self.services.get(key)
        if not managed(service) or service is None or meta(service).get("deletionTimestamp"):
            return None  # slices of a deleted Service go with it (ownerReferences, GC)
        pods = self.pods.list(namespace)
        desired = sl.desired_endpoints(service, pods, self.zones())
        changes = sl.reconcile_slices(service, self.owned_slices(namespace, name), desired)
        for body in changes.create:
            self.slices.assume(await self.client.create(ENDPOINT_SLICE, body, namespace=namespace))
        for body in changes.update:
            self.slices.assume(await self.client.replace(ENDPOINT_SLICE, body, namespace=namespace))
        await asyncio.gather(*(self._delete_slice(s) for s in changes.delete))
        await self._sync_endpoints(service, pods)
        return None

    async def _delete_slice(self, s: Obj) -> None:
        await delete_cached(self.client, ENDPOINT_SLICE, self.slices, s)

    async def _sync_endpoints(self, service: Obj, pods: list[Obj]) -> None:
        subsets = sl.render_endpoint_subsets(service, pods)
        labels, _ = sl.slice_metadata(service)
        labels = {k: v for k, v in labels.items()
                  if k not in (SERVICE_NAME_LABEL, sl.MANAGED_BY_LABEL)}
        current = self.endpoints.get(key_of(service))
        if current is not None and (current.get("subsets") or []) == subsets and (
                meta(current).get("labels") or {}) == labels:
            return
        annotations = dict((meta(current).get("annotations") or {}) if current else {})
        annotations[sl.TRIGGER_TIME] = rfc3339(now_utc())
        body: Obj = {"apiVersion": "v1", "kind": "Endpoints",
                     "metadata": {"name": meta(service)["name"],
                                  "namespace": meta(service)["namespace"],
                                  "annotations": annotations}}
        if labels:
            body["metadata"]["labels"] = labels
        if subsets:
            body["subsets"] = subsets
        if current is None:
            obj = await self.client.create(ENDPOINTS, body, namespace=meta(service)["namespace"])
        else:
            body["metadata"]["resourceVersion"] = meta(current).get("resourceVersion")
            obj = await self.client.replace(ENDPOINTS, body, namespace=meta(service)["namespace"])
        self.endpoints.assume(obj)
