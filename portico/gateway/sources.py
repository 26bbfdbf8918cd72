"""The API objects both Gateway processes watch, and the wait for the Gateway API CRDs.

Theory of operation: Gateway API kinds are custom resources, reached through the
client facade like any other kind (`GATEWAY_KINDS`); `wait_for_crds` polls until
the CRDs the controller needs are Established, logging once why it waits (a
cluster without the CRDs keeps working; the controller just idles).
`Sources` holds one informer per kind, wakes `on_change` on any event and
freezes the caches into a `model.Snapshot`; `Watching` runs a coalesced sync on
every change (the controller and the gateway pods are both `Watching`). The
gateway pods (`routing_only`) are not woken by changes routing cannot see
(`routing_changed`): the controller's status writes would otherwise make
every pod recompute its table after every route or Gateway change, on top of
the change itself. Of a Service, routing sees only its ports and type (the
EndpointSlices carry its endpoints): a new selector, which the EndpointSlice
controller turns into new slices a moment later, wakes no pod by itself.
Syncs are at least `min_interval` apart (a burst of events is one sync): 50 ms
for the controller, 5 ms for the pods, as kube-proxy's rules, so that a change
arriving just after a sync is not held back.
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
    HORIZONTAL_POD_AUTOSCALER,
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


_ROUTED_METADATA = ("name", "namespace", "labels", "annotations", "creationTimestamp",
                    "deletionTimestamp", "uid")


_ROUTED_SERVICE_SPEC = ("ports", "type")


def _routed(obj: Obj | None, kind: Kind | None) -> Obj | None:
    """What of `obj` routing can depend on: all but `status` and bookkeeping metadata;
    of a Service's spec, its ports and type."""
    if obj is None:
        return None
    m = obj.get("metadata") or {}
    routed = {**{k: v for k, v in obj.items() if k not in ("status", "metadata")},
              "metadata": {k: m.get(k) for k in _ROUTED_METADATA}}
    if kind == SERVICE:
        spec = obj.get("spec") or {}
        routed["spec"] = {k: spec.get(k) for k in _ROUTED_SERVICE_SPEC}
    return routed


def routing_changed(previous: Obj | None, current: Obj | None, kind: Kind | None = None,
                    ) -> bool:
    """False for a change routing cannot see: a status write (the controller's, for
    every route and Gateway), a managedFields or resourceVersion bump, a Service's
    new selector."""
    return _routed(previous, kind) != _routed(current, kind)


def _waker(kind: Kind, on_change: Callable[[], None], routing_only: bool,
           ) -> Callable[[Obj | None, Obj | None], None]:
    """An informer handler calling `on_change` (with `routing_only`, when routing sees it)."""
    def handle(previous: Obj | None, current: Obj | None) -> None:
        if not routing_only or routing_changed(previous, current, kind):
            on_change()
    return handle


class Sources:
    def __init__(self, client: Api, on_change: Callable[[], None],
                 with_deployments: bool = False, routing_only: bool = False) -> None:
        self.factory = InformerFactory(client)
        kinds = [*GATEWAY_KINDS, SERVICE, ENDPOINT_SLICE, SECRET, NAMESPACE, CONFIG_MAP]
        if with_deployments:   # the controller: what it provisions and reads back
            kinds += [DEPLOYMENT, HORIZONTAL_POD_AUTOSCALER]
        self.informers = {kind: self.factory.informer(kind) for kind in kinds}
        for kind, informer in self.informers.items():
            informer.add_handler(_waker(kind, on_change, routing_only))

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

    def __init__(self, client: Api, name: str, with_deployments: bool = False,
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
