"""A Gateway's listeners judged as the spec says: conditions, supportedKinds, certificates (pure).

Theory of operation: `gateway_view(snapshot, gateway)` looks at each listener on
its own (protocol, allowed route kinds, TLS certificate references through
ReferenceGrant, `kubernetes.io/tls` Secrets) and then at the listeners together:
listeners on one port that are not *distinct* (HTTP/HTTPS differing in
protocol, or in hostname) are all Conflicted (ProtocolConflict before
HostnameConflict); none wins. A listener is Programmed, and is served, only
when Accepted, ResolvedRefs and not Conflicted. The Gateway is Accepted
(reason Accepted; ListenersNotValid when some, False when all listeners are
invalid) unless its `infrastructure.parametersRef` cannot be resolved.
"""

from __future__ import annotations

from dataclasses import dataclass

from portico.gateway.model import (
    GROUP,
    ROUTE_KINDS,
    Condition,
    NamespacedName,
    Obj,
    Snapshot,
    granted,
    namespaced_name,
)
from portico.ingress import tls

PROTOCOLS = ("HTTP", "HTTPS")


@dataclass(frozen=True)
class Listener:
    name: str
    port: int
    protocol: str
    hostname: str | None
    allowed_from: str                   # Same | All | Selector
    selector: Obj
    kinds: tuple[str, ...]              # supportedKinds
    certificates: tuple[str, ...]       # PEM (crt + key) of each resolved certificateRef
    conditions: tuple[Condition, ...]

    @property
    def valid(self) -> bool:
        return all(c.status != (c.type == "Conflicted") for c in self.conditions)


@dataclass(frozen=True)
class GatewayView:
    key: NamespacedName
    listeners: tuple[Listener, ...]
    accepted: Condition


def _kinds(spec: Obj) -> tuple[tuple[str, ...], bool]:
    """(supportedKinds, whether every requested kind is one)."""
    wanted = ((spec.get("allowedRoutes") or {}).get("kinds")) or None
    if spec.get("protocol") not in PROTOCOLS:
        return (), True
    if wanted is None:
        return ROUTE_KINDS, True
    ok = tuple(k["kind"] for k in wanted
               if (k.get("group") or GROUP) == GROUP and k.get("kind") in ROUTE_KINDS)
    return ok, len(ok) == len(wanted)


def _certificate(snapshot: Snapshot, gw_ns: str, ref: Obj) -> tuple[str | None, str]:
    """(PEM, "") or (None, failing reason) for one certificateRef."""
    if (ref.get("group") or "") != "" or (ref.get("kind") or "Secret") != "Secret":
        return None, "InvalidCertificateRef"
    ns = ref.get("namespace") or gw_ns
    if ns != gw_ns and not granted(snapshot, "Gateway", gw_ns, "", "Secret", ns, ref["name"]):
        return None, "RefNotPermitted"
    secret = snapshot.secrets.get((ns, ref["name"]))
    if secret is None or secret.get("type") != "kubernetes.io/tls":
        return None, "InvalidCertificateRef"
    try:
        return tls.pem_from_secret(secret), ""
    except ValueError:
        return None, "InvalidCertificateRef"


def _refs(snapshot: Snapshot, gw_ns: str, spec: Obj) -> tuple[tuple[str, ...], str]:
    if spec.get("protocol") != "HTTPS":
        return (), ""
    pems: list[str] = []
    for ref in ((spec.get("tls") or {}).get("certificateRefs")) or []:
        pem, reason = _certificate(snapshot, gw_ns, ref)
        if pem is None:
            return (), reason
        pems.append(pem)
    return tuple(pems), "" if pems else "InvalidCertificateRef"


def _conflicts(specs: list[Obj]) -> dict[str, str]:
    """listener name -> ProtocolConflict | HostnameConflict, for non-distinct listeners."""
    out: dict[str, str] = {}
    for a in specs:
        for b in specs:
            if a is b or a.get("port") != b.get("port"):
                continue
            if a.get("protocol") != b.get("protocol"):
                out[a["name"]] = "ProtocolConflict"
            elif a.get("hostname") == b.get("hostname") and a["name"] not in out:
                out[a["name"]] = "HostnameConflict"
    return out


def _listener(snapshot: Snapshot, gw_ns: str, spec: Obj, conflict: str | None) -> Listener:
    kinds, kinds_ok = _kinds(spec)
    pems, ref_reason = _refs(snapshot, gw_ns, spec)
    protocol_ok = spec.get("protocol") in PROTOCOLS
    if not protocol_ok:
        accepted = Condition("Accepted", False, "UnsupportedProtocol",
                             f"protocol {spec.get('protocol')} is not supported")
    else:
        accepted = Condition("Accepted", True, "Accepted")
    if not kinds_ok:
        resolved = Condition("ResolvedRefs", False, "InvalidRouteKinds",
                             "allowedRoutes.kinds names an unsupported kind")
    elif ref_reason:
        resolved = Condition("ResolvedRefs", False, ref_reason,
                             "a certificateRef cannot be used")
    else:
        resolved = Condition("ResolvedRefs", True, "ResolvedRefs")
    conflicted = Condition("Conflicted", bool(conflict), conflict or "NoConflicts")
    ok = accepted.status and resolved.status and not conflict
    programmed = Condition("Programmed", ok, "Programmed" if ok else "Invalid")
    allowed = (spec.get("allowedRoutes") or {}).get("namespaces") or {}
    return Listener(name=spec["name"], port=int(spec["port"]), protocol=str(spec["protocol"]),
                    hostname=spec.get("hostname") or None,
                    allowed_from=allowed.get("from") or "Same",
                    selector=allowed.get("selector") or {}, kinds=kinds, certificates=pems,
                    conditions=(accepted, programmed, resolved, conflicted))


def _parameters(snapshot: Snapshot, gw_ns: str, gateway: Obj) -> bool:
    ref = ((gateway.get("spec") or {}).get("infrastructure") or {}).get("parametersRef")
    if not ref:
        return True
    return (ref.get("group") or "") == "" and ref.get("kind") == "ConfigMap" and \
        (gw_ns, ref.get("name")) in snapshot.config_maps


def gateway_view(snapshot: Snapshot, gateway: Obj) -> GatewayView:
    gw_ns = namespaced_name(gateway)[0]
    specs = list((gateway.get("spec") or {}).get("listeners") or [])
    conflicts = _conflicts(specs)
    listeners = tuple(_listener(snapshot, gw_ns, s, conflicts.get(s["name"])) for s in specs)
    valid = sum(1 for listener in listeners if listener.valid)
    if not _parameters(snapshot, gw_ns, gateway):
        accepted = Condition("Accepted", False, "InvalidParameters",
                             "infrastructure.parametersRef names no ConfigMap of this namespace")
    elif valid == len(listeners):
        accepted = Condition("Accepted", True, "Accepted")
    else:
        accepted = Condition("Accepted", valid > 0, "ListenersNotValid",
                             f"{len(listeners) - valid} of {len(listeners)} listeners are invalid")
    return GatewayView(namespaced_name(gateway), listeners, accepted)
