"""The Gateway API controller (AKS's istiod, app routing mode): GatewayClass, provisioning, status.

Theory of operation (level-triggered, one coalescing sync for any event): the
controller makes sure GatewayClass `approuting-istio` exists, accepts every
class whose controllerName is ours (with status.supportedFeatures), and for
every Gateway of such a class server-side applies the ServiceAccount,
Deployment, Service, HorizontalPodAutoscaler and (when the API serves policy/v1
PodDisruptionBudgets) PodDisruptionBudget of `provision` (the Deployment with
the replica count it has, which the autoscaler owns once it exists; an
autoscaler whose spec was edited, say to fewer than 2 pods, is applied again),
then writes the Gateway's status (listeners, attachedRoutes, addresses from its
Service) and the parents status of every HTTPRoute and GRPCRoute naming one of
our Gateways. Statuses are written only when they differ; a conflict or an
error is retried by the next sync. Gateways of other classes are never
touched; route parent entries of other controllers are kept.
"""

from __future__ import annotations

import json
import logging

from portico.client import Api, ApiError
from portico.gateway import provision, sources, status
from portico.gateway.attach import Attachment, attachments
from portico.gateway.listeners import GatewayView, gateway_view
from portico.gateway.model import CLASS_NAME, CONTROLLER_NAME, Obj, Snapshot, meta, namespaced_name
from portico.model.kinds import (
    DEPLOYMENT,
    HORIZONTAL_POD_AUTOSCALER,
    POD_DISRUPTION_BUDGET,
    Kind,
    builtin_kind,
)

log = logging.getLogger("portico.gateway.controller")
FIELD_MANAGER = "portico-gateway-controller"
ENFORCED = (HORIZONTAL_POD_AUTOSCALER,)  # re-applied when their spec was edited


def _comparable(obj_status: Obj | None) -> str:
    return json.dumps(obj_status or {}, sort_keys=True)


def _holds(live: object, wanted: object) -> bool:
    """Whether `live` has every field `wanted` sets, with its value (lists item by item)."""
    if isinstance(wanted, dict):
        return isinstance(live, dict) and all(_holds(live.get(k), v) for k, v in wanted.items())
    if isinstance(wanted, list):
        return isinstance(live, list) and len(live) == len(wanted) and \
            all(_holds(a, b) for a, b in zip(live, wanted, strict=True))
    return live == wanted


class GatewayController(sources.Watching):
    def __init__(self, client: Api) -> None:
        super().__init__(client, "gateway-controller", with_deployments=True)
        self._applied: dict[tuple[str, str, str], str] = {}
        self._pdb: bool | None = None

    async def sync(self) -> None:
        snapshot = self.sources.snapshot()
        await self._classes(snapshot)
        ours = {k: g for k, g in snapshot.gateways.items()
                if snapshot.ours(g) and not meta(g).get("deletionTimestamp")}
        views = {k: gateway_view(snapshot, g) for k, g in ours.items()}
        attached, parents = attachments(snapshot, views)
        await self._apply(provision.proxy_binding(list(ours.values())))
        for key, gateway in ours.items():
            await self._provision(gateway)
            await self._gateway_status(snapshot, gateway, views[key], attached)
        for kind, route in snapshot.routes():
            mine = [p for p in parents if (p.kind, p.route) == (kind, namespaced_name(route))]
            wanted = status.route_status(route, mine)
            if mine or any(p.get("controllerName") == CONTROLLER_NAME
                           for p in (route.get("status") or {}).get("parents") or []):
                await self._write_status(sources.ROUTE_KINDS[kind], route, wanted)

    async def _classes(self, snapshot: Snapshot) -> None:
        if CLASS_NAME not in snapshot.classes:
            try:
                await self.client.create(sources.GATEWAY_CLASS, provision.gateway_class())
            except ApiError as exc:
                if exc.status.code != 409:
                    raise
        for cls in snapshot.classes.values():
            if (cls.get("spec") or {}).get("controllerName") == CONTROLLER_NAME:
                await self._write_status(sources.GATEWAY_CLASS, cls, status.class_status(cls))

    async def _write_status(self, kind: Kind, obj: Obj, wanted: Obj) -> None:
        current = {k: v for k, v in (obj.get("status") or {}).items() if v is not None}
        if _comparable(current) == _comparable({k: v for k, v in wanted.items()
                                                if v is not None}):
            return
        ns, name = namespaced_name(obj)
        body = {"metadata": {"resourceVersion": meta(obj).get("resourceVersion")},
                "status": wanted}
        try:
            await self.client.patch(kind.status, name, body, namespace=ns or None)
        except ApiError as exc:
            log.info("status of %s %s/%s: %s", kind.name, ns, name, exc.status.message)
            self.runner.retry_after(0.5)

    async def _serves_pdb(self) -> bool:
        """Whether the API serves policy/v1 PodDisruptionBudgets (asked once)."""
        if self._pdb is None:
            try:
                await self.client.list(POD_DISRUPTION_BUDGET, "default")
                self._pdb = True
            except ApiError:
                self._pdb = False
        return self._pdb

    async def _provision(self, gateway: Obj) -> None:
        ns, name = namespaced_name(gateway)[0], provision.object_name(gateway)
        live = self.sources.informers[DEPLOYMENT].get(f"{ns}/{name}") or {}
        replicas = (live.get("spec") or {}).get("replicas") or provision.MIN_REPLICAS
        manifests = [provision.service_account(gateway),
                     provision.deployment(gateway, int(replicas)),
                     provision.service(gateway), provision.autoscaler(gateway)]
        if await self._serves_pdb():
            manifests.append(provision.disruption_budget(gateway))
        for manifest in manifests:
            await self._apply(manifest)

    async def _apply(self, manifest: Obj) -> None:
        """Server-side apply `manifest` unless this process applied the same already (and,
        for a kind it watches, the object still exists)."""
        m = manifest["metadata"]
        key = (manifest["kind"], m.get("namespace", ""), m["name"])
        text = json.dumps(manifest, sort_keys=True)
        kind = builtin_kind(manifest)
        live = self.sources.informers[kind].get(f"{m['namespace']}/{m['name']}") \
            if kind in self.sources.informers else manifest
        cached = live is not None and (kind not in ENFORCED or
                                       _holds(live.get("spec"), manifest["spec"]))
        if self._applied.get(key) == text and cached:
            return
        await self.client.apply(kind, manifest, force=True)
        self._applied[key] = text

    async def _gateway_status(self, snapshot: Snapshot, gateway: Obj, view: GatewayView,
                              attached: list[Attachment]) -> None:
        ns = namespaced_name(gateway)[0]
        name = provision.object_name(gateway)
        service = snapshot.services.get((ns, name))
        deployment = self.sources.informers[DEPLOYMENT].get(f"{ns}/{name}") or {}
        available = int((deployment.get("status") or {}).get("availableReplicas") or 0) > 0
        await self._write_status(sources.GATEWAY, gateway, status.gateway_status(
            gateway, view, attached, service, available))
