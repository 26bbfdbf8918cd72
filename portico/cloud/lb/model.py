"""The load balancer's vocabulary: what it reads (Services, Nodes) and what it builds.

Plain frozen dataclasses and enums, no I/O. The inputs are derived from the shared
views (`portico.model.core.Service`/`Node`, parsed once from the API's JSON by
`parse_service`, `parse_node`) so the planner, the IP allocator and
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
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from portico.model import core
from portico.model.vocabulary import (
    NodeAddressType,
    Protocol,
    ServiceType,
    SessionAffinity,
    TrafficPolicy,
)

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
    type: ServiceType = ServiceType.LOAD_BALANCER
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
        return (self.type == ServiceType.LOAD_BALANCER and not self.deleting
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


def _port(port: core.ServicePort) -> ServicePort:
    return ServicePort(name=port.name, protocol=port.protocol, port=port.port,
                       node_port=port.node_port, app_protocol=port.app_protocol)


def service_info(svc: core.Service) -> ServiceInfo:
    """The shared Service view -> `ServiceInfo`."""
    meta = svc.metadata
    return ServiceInfo(
        namespace=meta.namespace or "default", name=meta.name, uid=meta.uid,
        created=meta.creation_timestamp, type=svc.type,
        load_balancer_class=svc.load_balancer_class, ports=tuple(map(_port, svc.ports)),
        annotations=dict(meta.annotations),
        client_ip_affinity=svc.session_affinity is SessionAffinity.CLIENT_IP,
        external_traffic_policy=svc.external_traffic_policy,
        health_check_node_port=svc.health_check_node_port,
        load_balancer_ip=svc.load_balancer_ip,
        source_ranges=svc.load_balancer_source_ranges, deleting=meta.deleting,
        finalizers=meta.finalizers, ingress_ips=svc.load_balancer_ingress_ips,
    )


def parse_service(obj: Mapping[str, object]) -> ServiceInfo:
    """A Service's JSON (as the API returns it) -> `ServiceInfo`."""
    return service_info(core.Service.from_obj(obj))


def node_info(node: core.Node) -> NodeInfo:
    """The shared Node view -> `NodeInfo` (InternalIP, Ready condition, exclusion label)."""
    meta = node.metadata
    return NodeInfo(name=meta.name, address=node.address(NodeAddressType.INTERNAL_IP),
                    ready=node.ready and not meta.deleting,
                    excluded=EXCLUDE_LABEL in meta.labels)


def parse_node(obj: Mapping[str, object]) -> NodeInfo:
    """A Node's JSON -> `NodeInfo`."""
    return node_info(core.Node.from_obj(obj))


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


def is_ipv4(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True
