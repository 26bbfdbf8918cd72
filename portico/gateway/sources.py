"""The API objects both Gateway processes watch, and the wait for the Gateway API CRDs.

Theory of operation: Gateway API kinds are custom resources, so their lightkube
classes are generic resources (`GATEWAY_KINDS`); `wait_for_crds` polls until
the CRDs the controller needs are Established, logging once why it waits (a
cluster without the CRDs keeps working; the controller just idles).
`Sources` holds one informer per kind, wakes `on_change` on any event and
freezes the caches into a `model.Snapshot`; `Watching` runs a coalesced sync on
every change (the controller and the gateway pods are both `Watching`). The
gateway pods (`routing_only`) are not woken by changes routing cannot see
(`routing_changed`): the controller's status writes would otherwise make
every pod recompute its table after every route or Gateway change, on top of
the change itself. Syncs are at least `min_interval` apart (a burst of events
is one sync): 50 ms for the controller, 5 ms for the pods, as kube-proxy's
rules, so that a change arriving just after a sync is not held back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from lightkube import ApiError, AsyncClient, generic_resource
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.autoscaling_v2 import HorizontalPodAutoscaler
from lightkube.resources.core_v1 import ConfigMap, Namespace, Secret, Service
from lightkube.resources.discovery_v1 import EndpointSlice

from portico.client import CoalescingRunner, InformerFactory
from portico.gateway.model import GROUP, NamespacedName, Obj, Snapshot, namespaced_name

log = logging.getLogger("portico.gateway")

GatewayClass = generic_resource.create_global_resource(GROUP, "v1", "GatewayClass",
                                                       "gatewayclasses")
Gateway = generic_resource.create_namespaced_resource(GROUP, "v1", "Gateway", "gateways")
HTTPRoute = generic_resource.create_namespaced_resource(GROUP, "v1", "HTTPRoute", "httproutes")
GRPCRoute = generic_resource.create_namespaced_resource(GROUP, "v1", "GRPCRoute", "grpcroutes")
ReferenceGrant = generic_resource.create_namespaced_resource(GROUP, "v1beta1", "ReferenceGrant",
                                                             "referencegrants")
GATEWAY_KINDS = (GatewayClass, Gateway, HTTPRoute, GRPCRoute, ReferenceGrant)
ROUTE_CLASSES = {"HTTPRoute": HTTPRoute, "GRPCRoute": GRPCRoute}
CRDS = tuple(f"{plural}.{GROUP}" for plural in
             ("gatewayclasses", "gateways", "httproutes", "grpcroutes", "referencegrants"))


def _established(crd: object) -> bool:
    conditions = getattr(getattr(crd, "status", None), "conditions", None) or []
    return any(c.type == "Established" and c.status == "True" for c in conditions)


async def wait_for_crds(client: AsyncClient, poll: float = 2.0) -> None:
    logged = False
    while True:
        missing = []
        for name in CRDS:
            try:
                if not _established(await client.get(CustomResourceDefinition, name)):
                    missing.append(name)
            except ApiError:
                missing.append(name)
        if not missing:
            return
        if not logged:
            log.warning("waiting for the Gateway API CRDs (not Established: %s); install the "
                        "standard channel bundle", ", ".join(missing))
            logged = True
        await asyncio.sleep(poll)


def _by_key(objects: list[Obj]) -> dict[NamespacedName, Obj]:
    return {namespaced_name(o): o for o in objects}


_ROUTED_METADATA = ("name", "namespace", "labels", "annotations", "creationTimestamp",
                    "deletionTimestamp", "uid")


def _routed(obj: Obj | None) -> Obj | None:
    """What of `obj` routing can depend on: all but `status` and bookkeeping metadata."""
    if obj is None:
        return None
    m = obj.get("metadata") or {}
    return {**{k: v for k, v in obj.items() if k not in ("status", "metadata")},
            "metadata": {k: m.get(k) for k in _ROUTED_METADATA}}


def routing_changed(previous: Obj | None, current: Obj | None) -> bool:
    """False for a change routing cannot see: a status write (the controller's, for
    every route and Gateway), a managedFields or resourceVersion bump."""
    return _routed(previous) != _routed(current)


class Sources:
    def __init__(self, client: AsyncClient, on_change: Callable[[], None],
                 with_deployments: bool = False, routing_only: bool = False) -> None:
        self.factory = InformerFactory(client)
        kinds: list[type] = [*GATEWAY_KINDS, Service, EndpointSlice, Secret, Namespace,
                             ConfigMap]
        if with_deployments:   # the controller: what it provisions and reads back
            kinds += [Deployment, HorizontalPodAutoscaler]
        self.informers = {kind: self.factory.informer(kind) for kind in kinds}
        for informer in self.informers.values():
            informer.add_handler(
                lambda previous, current: None
                if routing_only and not routing_changed(previous, current) else on_change())

    async def start(self) -> None:
        self.factory.start()
        await self.factory.wait_synced()

    async def stop(self) -> None:
        await self.factory.stop()

    def list(self, kind: type) -> list[Obj]:
        return self.informers[kind].list()

    def snapshot(self) -> Snapshot:
        return Snapshot(
            classes={o["metadata"]["name"]: o for o in self.list(GatewayClass)},
            gateways=_by_key(self.list(Gateway)), http_routes=tuple(self.list(HTTPRoute)),
            grpc_routes=tuple(self.list(GRPCRoute)),
            reference_grants=tuple(self.list(ReferenceGrant)),
            services=_by_key(self.list(Service)),
            endpoint_slices=tuple(self.list(EndpointSlice)),
            secrets=_by_key(self.list(Secret)),
            namespaces={o["metadata"]["name"]: o for o in self.list(Namespace)},
            config_maps=_by_key(self.list(ConfigMap)))


class Watching:
    """A process part that syncs (`sync`, coalesced) on any change of what `Sources` watch,
    once the CRDs are there."""

    def __init__(self, client: AsyncClient, name: str, with_deployments: bool = False,
                 routing_only: bool = False, min_interval: float = 0.05) -> None:
        self.client = client
        self.runner = CoalescingRunner(name, self.sync, min_interval, 30.0)
        self.sources = Sources(client, self.runner.run, with_deployments, routing_only)

    async def sync(self) -> None:
        raise NotImplementedError

    async def start(self) -> None:
        await wait_for_crds(self.client)
        await self.sources.start()
        self.runner.start()
        self.runner.run()

    async def stop(self) -> None:
        await self.runner.stop()
        await self.sources.stop()
