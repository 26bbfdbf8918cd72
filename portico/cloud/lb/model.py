"""The load balancer's vocabulary: what it reads (Services, Nodes) and what it builds.

Plain frozen dataclasses and enums, no I/O. The inputs are views parsed from the
API's JSON (`parse_service`, `parse_node`) so the planner, the IP allocator and
the renderer are pure functions that unit tests drive with plain dicts. The
outputs use Azure Load Balancer words (frontend IP configuration, backend
address pool, load balancing rule, health probe) because `kubectl get lb` and
`portico lb show` show them to people who know AKS.

Invariants: names follow cloud-provider-azure (`a` + uid without dashes, cut to
32 characters, for a Service's frontend; `<frontend>-<PROTO>-<port>` for its
rules and probes); every address is an IPv4 dotted quad string.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from portico.model.vocabulary import Protocol, TrafficPolicy

LOAD_BALANCER_CLASS = "portico.dev/load-balancer"
CLEANUP_FINALIZER = "service.kubernetes.io/load-balancer-cleanup"
EXCLUDE_LABEL = "node.kubernetes.io/exclude-from-external-load-balancers"
FRONTEND_NAME_LENGTH = 32


class TransportProtocol(StrEnum):
    """An Azure load balancing rule's protocol."""

    TCP = "Tcp"
    UDP = "Udp"


class ProbeProtocol(StrEnum):
    """An Azure health probe's protocol."""

    TCP = "Tcp"
    HTTP = "Http"
    HTTPS = "Https"


class LoadDistribution(StrEnum):
    DEFAULT = "Default"  # 5-tuple hash
    SOURCE_IP = "SourceIP"  # client IP affinity (sessionAffinity: ClientIP)


class LoadBalancerType(StrEnum):
    PUBLIC = "public"
    INTERNAL = "internal"


class HealthState(StrEnum):
    UP = "Up"
    DOWN = "Down"


# ---- inputs -----------------------------------------------------------------

@dataclass(frozen=True)
class ServicePort:
    name: str
    protocol: Protocol
    port: int
    node_port: int = 0
    app_protocol: str | None = None


@dataclass(frozen=True)
class ServiceInfo:
    """What the load balancer needs of one Service."""

    namespace: str
    name: str
    uid: str
    created: str = ""
    type: str = "LoadBalancer"
    load_balancer_class: str | None = None
    ports: tuple[ServicePort, ...] = ()
    annotations: dict[str, str] = field(default_factory=dict, hash=False)
    client_ip_affinity: bool = False
    external_traffic_policy: TrafficPolicy = TrafficPolicy.CLUSTER
    health_check_node_port: int = 0
    load_balancer_ip: str | None = None
    source_ranges: tuple[str, ...] = ()
    deleting: bool = False
    finalizers: tuple[str, ...] = ()
    ingress_ips: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def wants_load_balancer(self) -> bool:
        """A LoadBalancer Service of our class that is not being deleted."""
        return (self.type == "LoadBalancer" and not self.deleting
                and self.load_balancer_class in (None, LOAD_BALANCER_CLASS))

    @property
    def has_finalizer(self) -> bool:
        return CLEANUP_FINALIZER in self.finalizers


@dataclass(frozen=True)
class NodeInfo:
    name: str
    address: str | None
    ready: bool = True
    excluded: bool = False


def frontend_name(uid: str) -> str:
    """cloud-provider-azure's `DefaultLoadBalancerName`: `a` + uid without dashes, 32 chars."""
    return ("a" + uid.replace("-", ""))[:FRONTEND_NAME_LENGTH]


def rule_name(frontend: str, protocol: Protocol, port: int) -> str:
    return f"{frontend}-{protocol.value}-{port}"


def _ports(spec: dict[str, Any]) -> tuple[ServicePort, ...]:
    ports = []
    for p in spec.get("ports") or []:
        ports.append(ServicePort(
            name=p.get("name") or "", protocol=Protocol(p.get("protocol") or "TCP"),
            port=int(p.get("port") or 0), node_port=int(p.get("nodePort") or 0),
            app_protocol=p.get("appProtocol")))
    return tuple(ports)


def parse_service(obj: dict[str, Any]) -> ServiceInfo:
    """A Service's JSON (as the API returns it) -> `ServiceInfo`."""
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    ingress = ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    return ServiceInfo(
        namespace=meta.get("namespace") or "default", name=meta.get("name") or "",
        uid=meta.get("uid") or "", created=str(meta.get("creationTimestamp") or ""),
        type=spec.get("type") or "ClusterIP",
        load_balancer_class=spec.get("loadBalancerClass"), ports=_ports(spec),
        annotations=dict(meta.get("annotations") or {}),
        client_ip_affinity=spec.get("sessionAffinity") == "ClientIP",
        external_traffic_policy=TrafficPolicy(spec.get("externalTrafficPolicy") or "Cluster"),
        health_check_node_port=int(spec.get("healthCheckNodePort") or 0),
        load_balancer_ip=spec.get("loadBalancerIP") or None,
        source_ranges=tuple(spec.get("loadBalancerSourceRanges") or ()),
        deleting=bool(meta.get("deletionTimestamp")),
        finalizers=tuple(meta.get("finalizers") or ()),
        ingress_ips=tuple(i["ip"] for i in ingress if i.get("ip")),
    )


def parse_node(obj: dict[str, Any]) -> NodeInfo:
    """A Node's JSON -> `NodeInfo` (InternalIP, Ready condition, exclusion label)."""
    meta = obj.get("metadata") or {}
    status = obj.get("status") or {}
    address = next((a.get("address") for a in status.get("addresses") or []
                    if a.get("type") == "InternalIP"), None)
    ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                for c in status.get("conditions") or [])
    labels = meta.get("labels") or {}
    return NodeInfo(name=meta.get("name") or "", address=address,
                    ready=ready and not meta.get("deletionTimestamp"),
                    excluded=EXCLUDE_LABEL in labels)


# ---- outputs: the Azure-style load balancer -----------------------------------

@dataclass(frozen=True)
class FrontendIPConfiguration:
    name: str
    ip: str
    service: str  # "namespace/name"
    type: LoadBalancerType
    allowed_source_ranges: tuple[str, ...] = ()  # empty: every source (no security rule)


@dataclass(frozen=True)
class BackendMember:
    name: str  # the Node's name
    ip_address: str


@dataclass(frozen=True)
class BackendAddressPool:
    name: str
    members: tuple[BackendMember, ...]


@dataclass(frozen=True)
class Probe:
    name: str
    protocol: ProbeProtocol
    port: int
    request_path: str | None
    interval_in_seconds: int
    number_of_probes: int


@dataclass(frozen=True)
class LoadBalancingRule:
    name: str
    frontend_ip_configuration: str
    frontend_ip: str
    protocol: TransportProtocol
    frontend_port: int
    backend_port: int
    enable_floating_ip: bool
    idle_timeout_in_minutes: int
    load_distribution: LoadDistribution
    probe: str | None


@dataclass(frozen=True)
class LoadBalancer:
    name: str
    type: LoadBalancerType
    frontend_ip_configurations: tuple[FrontendIPConfiguration, ...]
    backend_address_pool: BackendAddressPool
    load_balancing_rules: tuple[LoadBalancingRule, ...]
    probes: tuple[Probe, ...]

    def probe(self, name: str) -> Probe | None:
        return next((p for p in self.probes if p.name == name), None)

    def frontend(self, name: str) -> FrontendIPConfiguration | None:
        return next((f for f in self.frontend_ip_configurations if f.name == name), None)


@dataclass(frozen=True)
class ProbeTarget:
    """One thing the prober checks: a probe's settings aimed at one node."""

    address: str
    protocol: ProbeProtocol
    port: int
    request_path: str | None
    interval_in_seconds: int
    number_of_probes: int


def probe_target(probe: Probe, member: BackendMember) -> ProbeTarget:
    return ProbeTarget(member.ip_address, probe.protocol, probe.port, probe.request_path,
                       probe.interval_in_seconds, probe.number_of_probes)


def probe_targets(lbs: list[LoadBalancer] | tuple[LoadBalancer, ...]) -> set[ProbeTarget]:
    return {probe_target(p, m) for lb in lbs for p in lb.probes
            for m in lb.backend_address_pool.members}


def is_ipv4(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True
