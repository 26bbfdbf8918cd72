"""The API objects both Gateway processes watch, and the wait for the Gateway API CRDs.

Theory of operation: Gateway API kinds are custom resources, reached through the
client facade like any other kind (`GATEWAY_KINDS`); `wait_for_crds` polls until
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

from portico.client import Api, CoalescingRunner, InformerFactory
from portico.gateway.model import GROUP, NamespacedName, Obj, Snapshot, namespaced_name
from portico.model.kinds import (
    CONFIG_MAP,
    CUSTOM_RESOURCE_DEFINITION,
    DEPLOYMENT,
    ENDPOINT_SLICE,
    NAMESPACE,
    SECRET,
    SERVICE,
    Kind,
)
from portico.model.vocabulary import ConditionStatus, CRDConditionType

log = logging.getLogger("portico.gateway")

GATEWAY_CLASS = Kind.of(f"{GROUP}/v1", "GatewayClass", "gatewayclasses", namespaced=False)
GATEWAY = Kind.of(f"{GROUP}/v1", "Gateway", "gateways")
HTTP_ROUTE = Kind.of(f"{GROUP}/v1", "HTTPRoute", "httproutes")
GRPC_ROUTE = Kind.of(f"{GROUP}/v1", "GRPCRoute", "grpcroutes")
REFERENCE_GRANT = Kind.of(f"{GROUP}/v1beta1", "ReferenceGrant", "referencegrants")
GATEWAY_KINDS = (GATEWAY_CLASS, GATEWAY, HTTP_ROUTE, GRPC_ROUTE, REFERENCE_GRANT)
ROUTE_KINDS = {"HTTPRoute": HTTP_ROUTE, "GRPCRoute": GRPC_ROUTE}
CRDS = tuple(f"{plural}.{GROUP}" for plural in
             ("gatewayclasses", "gateways", "httproutes", "grpcroutes", "referencegrants"))


def _established(crd: Obj | None) -> bool:
    conditions = ((crd or {}).get("status") or {}).get("conditions") or []
    return any(c.get("type") == CRDConditionType.ESTABLISHED
               and c.get("status") == ConditionStatus.TRUE for c in conditions)


async def wait_for_crds(client: Api, poll: float = 2.0) -> None:
    logged = False
    while True:
        missing = [name for name in CRDS if not _established(
            await client.get_or_none(CUSTOM_RESOURCE_DEFINITION, name))]
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
    def __init__(self, client: Api, on_change: Callable[[], None],
                 with_deployments: bool = False) -> None:
        self.factory = InformerFactory(client)
        kinds = [*GATEWAY_KINDS, SERVICE, ENDPOINT_SLICE, SECRET, NAMESPACE, CONFIG_MAP]
        if with_deployments:
            kinds.append(DEPLOYMENT)
        self.informers = {kind: self.factory.informer(kind) for kind in kinds}
        for informer in self.informers.values():
            informer.add_handler(lambda _previous, _current: on_change())

    async def start(self) -> None:
        self.factory.start()
        await self.factory.wait_synced()

    async def stop(self) -> None:
        await self.factory.stop()

    def list(self, kind: Kind) -> list[Obj]:
        return self.informers[kind].list()

    def snapshot(self) -> Snapshot:
        return Snapshot(
            classes={o["metadata"]["name"]: o for o in self.list(GATEWAY_CLASS)},
            gateways=_by_key(self.list(GATEWAY)), http_routes=tuple(self.list(HTTP_ROUTE)),
            grpc_routes=tuple(self.list(GRPC_ROUTE)),
            reference_grants=tuple(self.list(REFERENCE_GRANT)),
            services=_by_key(self.list(SERVICE)),
            endpoint_slices=tuple(self.list(ENDPOINT_SLICE)),
            secrets=_by_key(self.list(SECRET)),
            namespaces={o["metadata"]["name"]: o for o in self.list(NAMESPACE)},
            config_maps=_by_key(self.list(CONFIG_MAP)))


class Watching:
    """A process part that syncs (`sync`, coalesced) on any change of what `Sources` watch,
    once the CRDs are there."""

    def __init__(self, client: Api, name: str, with_deployments: bool = False) -> None:
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
