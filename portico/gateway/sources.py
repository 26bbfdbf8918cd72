"""The API objects both Gateway processes watch, and the wait for the Gateway API CRDs.

Theory of operation: Gateway API kinds are custom resources, so their lightkube
classes are generic resources (`GATEWAY_KINDS`); `wait_for_crds` polls until
the CRDs the controller needs are Established, logging once why it waits (a
cluster without the CRDs keeps working; the controller just idles).
`Sources` holds one informer per kind, wakes `on_change` on any event and
freezes the caches into a `model.Snapshot`; `Watching` runs a coalesced sync on
every change (the controller and the gateway pods are both `Watching`).
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


class Sources:
    def __init__(self, client: AsyncClient, on_change: Callable[[], None],
                 with_deployments: bool = False) -> None:
        self.factory = InformerFactory(client)
        kinds: list[type] = [*GATEWAY_KINDS, Service, EndpointSlice, Secret, Namespace,
                             ConfigMap]
        if with_deployments:   # the controller: what it provisions and reads back
            kinds += [Deployment, HorizontalPodAutoscaler]
        self.informers = {kind: self.factory.informer(kind) for kind in kinds}
        for informer in self.informers.values():
            informer.add_handler(lambda _previous, _current: on_change())

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

    def __init__(self, client: AsyncClient, name: str, with_deployments: bool = False) -> None:
        self.client = client
        self.runner = CoalescingRunner(name, self.sync, 0.05, 30.0)
        self.sources = Sources(client, self.runner.run, with_deployments)

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
