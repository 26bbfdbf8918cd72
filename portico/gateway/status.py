"""The status the controller writes: GatewayClass, Gateway (with listeners), route parents (pure).

Theory of operation: each function returns the whole `status` a sync wants,
from the decisions of `listeners` and `attach` and the provisioned objects;
conditions carry the object's current generation as `observedGeneration` and
keep their lastTransitionTime while their status is unchanged. A Gateway is
Programmed once its Service has a load balancer address (written to
`status.addresses`, IPAddress or Hostname as Istio does) and a gateway pod is
available; before that Programmed is False (AddressNotAssigned, Pending).
Route parents: entries of other controllers are kept as they are; ours are
replaced by one entry per parentRef naming one of our Gateways.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from portico.gateway.attach import Attachment, ParentStatus
from portico.gateway.listeners import GatewayView
from portico.gateway.model import (
    CONTROLLER_NAME,
    GROUP,
    SUPPORTED_FEATURES,
    Condition,
    Obj,
    generation,
    namespaced_name,
)


def _since(status: Obj | None) -> dict[str, Obj]:
    return {c.get("type"): c for c in (status or {}).get("conditions") or []}


def conditions(items: Iterable[Condition], gen: int, old: Obj | None) -> list[Obj]:
    since = _since(old)
    return [c.as_status(gen, since) for c in items]


def class_status(cls: Obj) -> Obj:
    accepted = Condition("Accepted", True, "Accepted", "Handled by Portico (HAProxy)")
    return {"conditions": conditions([accepted], generation(cls), cls.get("status")),
            "supportedFeatures": [{"name": f} for f in sorted(SUPPORTED_FEATURES)]}


def addresses(service: Obj | None) -> list[Obj]:
    out = []
    for entry in (((service or {}).get("status") or {}).get("loadBalancer") or {}).get(
            "ingress") or []:
        value = entry.get("ip") or entry.get("hostname")
        if not value:
            continue
        try:
            ipaddress.ip_address(value)
            out.append({"type": "IPAddress", "value": value})
        except ValueError:
            out.append({"type": "Hostname", "value": value})
    return out


def _programmed(view: GatewayView, found: list[Obj], available: bool) -> Condition:
    if not view.accepted.status:
        return Condition("Programmed", False, "Invalid", "the Gateway is not accepted")
    if not found:
        return Condition("Programmed", False, "AddressNotAssigned",
                         "the load balancer has no frontend IP yet")
    if not available:
        return Condition("Programmed", False, "Pending", "no gateway pod is ready yet")
    return Condition("Programmed", True, "Programmed")


def gateway_status(gateway: Obj, view: GatewayView, attached: list[Attachment],
                   service: Obj | None, available: bool) -> Obj:
    gen, old = generation(gateway), gateway.get("status") or {}
    old_listeners = {li.get("name"): li for li in old.get("listeners") or []}
    found = addresses(service)
    listeners = []
    for li in view.listeners:
        count = len({(a.kind, namespaced_name(a.route)) for a in attached
                     if a.gateway == view.key and a.listener == li.name})
        listeners.append({
            "name": li.name, "attachedRoutes": count,
            "supportedKinds": [{"group": GROUP, "kind": k} for k in li.kinds],
            "conditions": conditions(li.conditions, gen, old_listeners.get(li.name))})
    return {"addresses": found or None,
            "conditions": conditions([view.accepted, _programmed(view, found, available)],
                                     gen, old),
            "listeners": listeners}


def route_status(route: Obj, ours: list[ParentStatus]) -> Obj:
    gen = generation(route)
    kept = [p for p in (route.get("status") or {}).get("parents") or []
            if p.get("controllerName") != CONTROLLER_NAME]
    old = {str(sorted(p.get("parentRef", {}).items())): p
           for p in (route.get("status") or {}).get("parents") or []}
    for p in ours:
        previous = old.get(str(sorted(p.parent_ref.items())))
        kept.append({"parentRef": p.parent_ref, "controllerName": CONTROLLER_NAME,
                     "conditions": conditions(p.conditions, gen, previous)})
    return {"parents": kept}
