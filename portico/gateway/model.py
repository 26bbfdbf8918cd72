"""Plain data for the Gateway API controller and its HAProxy gateways (pure).

Theory of operation: both halves of Portico's Gateway API support - the
controller (GatewayClass, provisioning, status) and each Gateway's HAProxy pods
(routing) - read the same API objects and must agree on every decision (which
listener is valid, which route attaches where, which backend is resolved). A
`Snapshot` freezes the raw objects one sync sees; `listeners.gateway_view` and
`attach.attachments` turn it into decisions; the controller writes them as
status, the gateway pods render them (`routing`, `render`).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]
NamespacedName = tuple[str, str]

GROUP = "gateway.networking.k8s.io"
CLASS_NAME = "approuting-istio"
CONTROLLER_NAME = "istio.aks.azure.com/gateway-controller"
GATEWAY_NAME_LABEL = GROUP + "/gateway-name"
GATEWAY_CLASS_LABEL = GROUP + "/gateway-class-name"
ROUTE_KINDS = ("HTTPRoute", "GRPCRoute")
SUPPORTED_FEATURES = (
    "GRPCRoute", "Gateway", "GatewayInfrastructurePropagation", "GatewayPort8080", "HTTPRoute",
    "HTTPRoute303RedirectStatusCode", "HTTPRoute307RedirectStatusCode",
    "HTTPRoute308RedirectStatusCode", "HTTPRouteBackendRequestHeaderModification",
    "HTTPRouteBackendTimeout", "HTTPRouteCORS", "HTTPRouteHostRewrite",
    "HTTPRouteMethodMatching", "HTTPRoutePathRedirect", "HTTPRoutePathRewrite",
    "HTTPRoutePortRedirect", "HTTPRouteQueryParamMatching", "HTTPRouteRequestMirror",
    "HTTPRouteRequestMultipleMirrors", "HTTPRouteRequestPercentageMirror",
    "HTTPRouteRequestTimeout",
    "HTTPRouteResponseHeaderModification", "HTTPRouteSchemeRedirect", "ReferenceGrant")


@dataclass(frozen=True)
class Condition:
    type: str
    status: bool
    reason: str
    message: str = ""

    def as_status(self, generation: int, since: Mapping[str, Obj]) -> Obj:
        """The API's form; lastTransitionTime kept from `since` (type -> old) if unchanged."""
        old = since.get(self.type) or {}
        status = "True" if self.status else "False"
        when = old.get("lastTransitionTime") if old.get("status") == status else None
        return {"type": self.type, "status": status, "reason": self.reason,
                "message": self.message or self.reason, "observedGeneration": generation,
                "lastTransitionTime": when or now_rfc3339()}


def now_rfc3339() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Snapshot:
    """The objects one sync sees, raw; keyed by (namespace, name) where that helps."""

    classes: Mapping[str, Obj] = field(default_factory=dict)
    gateways: Mapping[NamespacedName, Obj] = field(default_factory=dict)
    http_routes: tuple[Obj, ...] = ()
    grpc_routes: tuple[Obj, ...] = ()
    reference_grants: tuple[Obj, ...] = ()
    services: Mapping[NamespacedName, Obj] = field(default_factory=dict)
    endpoint_slices: tuple[Obj, ...] = ()
    secrets: Mapping[NamespacedName, Obj] = field(default_factory=dict)
    namespaces: Mapping[str, Obj] = field(default_factory=dict)
    config_maps: Mapping[NamespacedName, Obj] = field(default_factory=dict)

    def routes(self) -> list[tuple[str, Obj]]:
        """(kind, route) for every route this controller serves."""
        return [("HTTPRoute", r) for r in self.http_routes] + \
            [("GRPCRoute", r) for r in self.grpc_routes]

    def ours(self, gateway: Obj) -> bool:
        """Whether `gateway`'s class is one this controller owns."""
        cls = self.classes.get(str((gateway.get("spec") or {}).get("gatewayClassName")))
        return cls is not None and (cls.get("spec") or {}).get("controllerName") == \
            CONTROLLER_NAME


def meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def namespaced_name(obj: Obj) -> NamespacedName:
    m = meta(obj)
    return str(m.get("namespace") or ""), str(m.get("name") or "")


def generation(obj: Obj) -> int:
    return int(meta(obj).get("generation") or 0)


def granted(snapshot: Snapshot, from_kind: str, from_ns: str, to_group: str, to_kind: str,
            to_ns: str, to_name: str) -> bool:
    """Whether a ReferenceGrant in `to_ns` lets `from_kind` objects of `from_ns` refer to it."""
    for grant in snapshot.reference_grants:
        if meta(grant).get("namespace") != to_ns:
            continue
        spec = grant.get("spec") or {}
        sources = any(f.get("group") == GROUP and f.get("kind") == from_kind and
                      f.get("namespace") == from_ns for f in spec.get("from") or [])
        targets = any((t.get("group") or "") == to_group and t.get("kind") == to_kind and
                      (not t.get("name") or t.get("name") == to_name)
                      for t in spec.get("to") or [])
        if sources and targets:
            return True
    return False
