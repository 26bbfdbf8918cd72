"""HTTPRoutes and GRPCRoutes attached to Gateway listeners, and each parentRef's status (pure).

Theory of operation: for every parentRef of a route that names a Gateway of
ours (group/kind/namespace defaulted), the candidate listeners are those the
sectionName and port select (none: NoMatchingParent); of those, the listeners
whose supportedKinds hold the route's kind and whose allowedRoutes admit the route's
namespace (Same, All, or a Selector over the Namespace's labels) take it
(none: NotAllowedByListeners) if the hostnames intersect (none:
NoMatchingListenerHostname). The parentRef is Accepted when one listener
takes it. ResolvedRefs looks at every backendRef of every rule (InvalidKind,
RefNotPermitted, BackendNotFound, in the order met; RequestMirror filters'
backendRefs included). An `Attachment` records
one (route, listener) pair with the hostnames served there - the
intersection of the listener's and the route's. A route this data plane
cannot render is Accepted False / UnsupportedValue, and one with some rules it
cannot render gets PartiallyInvalid (`checks`). Last, an HTTPRoute and a
GRPCRoute sharing a listener and a hostname are settled by `cross_serving`.
"""

from __future__ import annotations

from dataclasses import dataclass

from portico.gateway import checks, cross_serving
from portico.gateway.hostnames import intersect
from portico.gateway.listeners import GatewayView, Listener
from portico.gateway.model import (
    GROUP,
    Condition,
    NamespacedName,
    Obj,
    Snapshot,
    granted,
    meta,
    namespaced_name,
)
from portico.model.selectors import label_selector_matches


@dataclass(frozen=True)
class Attachment:
    gateway: NamespacedName
    listener: str
    kind: str                           # HTTPRoute | GRPCRoute
    route: Obj
    hostnames: tuple[str | None, ...]   # None: any host the listener takes


@dataclass(frozen=True)
class ParentStatus:
    kind: str
    route: NamespacedName
    parent_ref: Obj                     # defaulted, as written to status
    conditions: tuple[Condition, ...]


def hostnames(listener: Listener, route: Obj) -> tuple[str | None, ...]:
    wanted = (route.get("spec") or {}).get("hostnames") or []
    if not wanted:
        return (listener.hostname,)
    found = (intersect(listener.hostname, h) for h in wanted)
    return tuple(dict.fromkeys(h for h in found if h is not None))


def admits(snapshot: Snapshot, gateway_ns: str, listener: Listener, kind: str,
           route_ns: str) -> bool:
    if kind not in listener.kinds:
        return False
    if listener.allowed_from == "All":
        return True
    if listener.allowed_from == "Selector":
        ns = snapshot.namespaces.get(route_ns) or {}
        return label_selector_matches(listener.selector, meta(ns).get("labels"))
    return route_ns == gateway_ns


def default_parent(ref: Obj, route_ns: str) -> Obj:
    out = {"group": ref.get("group", GROUP), "kind": ref.get("kind") or "Gateway",
           "namespace": ref.get("namespace") or route_ns, "name": ref["name"]}
    for key in ("sectionName", "port"):
        if ref.get(key) is not None:
            out[key] = ref[key]
    return out


def _backend_refs(rule: Obj) -> list[Obj]:
    """The rule's backendRefs and those of its RequestMirror filters (rule's and refs')."""
    refs = list(rule.get("backendRefs") or [])
    filters = list(rule.get("filters") or []) + [f for ref in refs
                                                  for f in ref.get("filters") or []]
    return refs + [(f.get("requestMirror") or {})["backendRef"] for f in filters
                   if f.get("type") == "RequestMirror"]


def resolved_refs(snapshot: Snapshot, kind: str, route: Obj) -> Condition:
    ns = namespaced_name(route)[0]
    for rule in (route.get("spec") or {}).get("rules") or []:
        for ref in _backend_refs(rule):
            reason = backend_problem(snapshot, kind, ns, ref)
            if reason:
                return Condition("ResolvedRefs", False, reason,
                                 f"backendRef {ref.get('name')}: {reason}")
    return Condition("ResolvedRefs", True, "ResolvedRefs")


def backend_problem(snapshot: Snapshot, kind: str, route_ns: str, ref: Obj) -> str:
    """"" when `ref` names a usable Service port, else the ResolvedRefs reason."""
    if (ref.get("group") or "") != "" or (ref.get("kind") or "Service") != "Service":
        return "InvalidKind"
    ns = ref.get("namespace") or route_ns
    if ns != route_ns and not granted(snapshot, kind, route_ns, "", "Service", ns, ref["name"]):
        return "RefNotPermitted"
    if (ns, ref["name"]) not in snapshot.services:
        return "BackendNotFound"
    return ""


def partially_invalid(kind: str, route: Obj) -> tuple[Condition, ...]:
    """PartiallyInvalid when some (not all) rules are dropped; never set False."""
    dropped = checks.dropped_rules(kind, route)
    rules = (route.get("spec") or {}).get("rules") or []
    if not dropped or len(dropped) == len(rules):
        return ()
    text = "; ".join(f"rule {i}: {why}" for i, why in sorted(dropped.items()))
    return (Condition("PartiallyInvalid", True, "UnsupportedValue", f"Dropped Rule(s): {text}"),)


def _candidates(view: GatewayView, ref: Obj) -> list[Listener]:
    return [li for li in view.listeners
            if ref.get("sectionName") in (None, li.name) and ref.get("port") in (None, li.port)]


def _attach_one(snapshot: Snapshot, view: GatewayView, kind: str, route: Obj, ref: Obj,
                ) -> tuple[Condition, list[Attachment]]:
    route_ns = namespaced_name(route)[0]
    dropped = checks.dropped_rules(kind, route)
    if dropped and len(dropped) == len((route.get("spec") or {}).get("rules") or []):
        return Condition("Accepted", False, "UnsupportedValue",
                         "; ".join(dropped.values())), []
    candidates = _candidates(view, ref)
    if not candidates:
        return Condition("Accepted", False, "NoMatchingParent",
                         "no listener matches the parentRef's sectionName and port"), []
    allowed = [li for li in candidates if admits(snapshot, view.key[0], li, kind, route_ns)]
    if not allowed:
        return Condition("Accepted", False, "NotAllowedByListeners",
                         "no listener allows routes of this kind from this namespace"), []
    taken = [Attachment(view.key, li.name, kind, route, hostnames(li, route)) for li in allowed]
    taken = [a for a in taken if a.hostnames]
    if not taken:
        return Condition("Accepted", False, "NoMatchingListenerHostname",
                         "no listener hostname intersects the route's hostnames"), []
    return Condition("Accepted", True, "Accepted"), taken


def attachments(snapshot: Snapshot, views: dict[NamespacedName, GatewayView],
                ) -> tuple[list[Attachment], list[ParentStatus]]:
    """Every attachment to our Gateways, and the status of every parentRef naming one."""
    found: list[tuple[ParentStatus, list[Attachment]]] = []
    for kind, route in snapshot.routes():
        key = namespaced_name(route)
        resolved = resolved_refs(snapshot, kind, route)
        for ref in (route.get("spec") or {}).get("parentRefs") or []:
            parent = default_parent(ref, key[0])
            view = views.get((parent["namespace"], parent["name"]))
            if parent["group"] != GROUP or parent["kind"] != "Gateway" or view is None:
                continue
            accepted, taken = _attach_one(snapshot, view, kind, route, ref)
            found.append((ParentStatus(kind, key, parent, (accepted, resolved,
                                                           *partially_invalid(kind, route))),
                          taken))
    return _cross_serving(found)


def _cross_serving(found: list[tuple[ParentStatus, list[Attachment]]],
                   ) -> tuple[list[Attachment], list[ParentStatus]]:
    """The attachments `cross_serving` keeps; a parentRef it leaves none is not Accepted."""
    losers = cross_serving.rejected([a for _, taken in found for a in taken])
    attached: list[Attachment] = []
    statuses: list[ParentStatus] = []
    for status, taken in found:
        kept = [a for a in taken if id(a) not in losers]
        attached += kept
        if taken and not kept:
            lost = Condition("Accepted", False, cross_serving.REASON,
                             cross_serving.message(losers[id(taken[0])]))
            status = ParentStatus(status.kind, status.route, status.parent_ref,
                                  (lost, *status.conditions[1:]))
        statuses.append(status)
    return attached, statuses
