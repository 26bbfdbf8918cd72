"""The proxy's desired model: Services and EndpointSlices as frozen values.

Theory of operation (kube-proxy's `ServicePort` / `Endpoint` / `CategorizeEndpoints`):
a Service becomes one `ServicePort` per `spec.ports` entry, keyed by
`ServicePortName(namespace, name, port name, protocol)`; headless (`clusterIP:
None`), ExternalName, IP-less and SCTP ports produce nothing. An EndpointSlice
becomes, per slice port, a tuple of `Endpoint`s keyed by the same
`ServicePortName` (the slice's port name matches the Service's port name); the
endpoints of a service port are the union over its slices. `categorize` picks
the endpoints the rules use: ready ones first, serving-and-terminating ones only
when none is ready, separately for Cluster and for Local (this node) policy.

Both are derived from the shared views (`portico.model.core.Service`,
`portico.model.discovery.EndpointSlice`), parsed once where the objects arrive.
Everything here is pure and comparable, so change trackers can cancel no-op
updates by equality.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from portico.model import core, discovery
from portico.model.vocabulary import (
    AddressType,
    Protocol,
    ServiceType,
    SessionAffinity,
    TrafficPolicy,
)

LAST_CHANGE_TRIGGER_TIME = "endpoints.kubernetes.io/last-change-trigger-time"
DEFAULT_AFFINITY_TIMEOUT = 10800

SUPPORTED_PROTOCOLS = frozenset({Protocol.TCP, Protocol.UDP})


@dataclass(frozen=True, order=True)
class ServiceName:
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True, order=True)
class ServicePortName:
    """`ns/name:port` plus the protocol, as kube-proxy's proxy.ServicePortName."""

    namespace: str
    name: str
    port: str
    protocol: Protocol

    @property
    def service(self) -> ServiceName:
        return ServiceName(self.namespace, self.name)

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}:{self.port}"


@dataclass(frozen=True)
class ServicePort:
    name: ServicePortName
    cluster_ip: str
    port: int
    node_port: int = 0
    external_ips: tuple[str, ...] = ()
    load_balancer_ips: tuple[str, ...] = ()
    load_balancer_source_ranges: tuple[str, ...] = ()
    affinity_timeout: int = 0
    """Seconds of `sessionAffinity: ClientIP`; 0 when there is no affinity."""
    internal_policy: TrafficPolicy = TrafficPolicy.CLUSTER
    external_policy: TrafficPolicy = TrafficPolicy.CLUSTER
    health_check_node_port: int = 0

    @property
    def protocol(self) -> Protocol:
        return self.name.protocol

    @property
    def externally_accessible(self) -> bool:
        return bool(self.node_port or self.external_ips or self.load_balancer_ips)

    @property
    def internal_policy_local(self) -> bool:
        return self.internal_policy is TrafficPolicy.LOCAL

    @property
    def external_policy_local(self) -> bool:
        return self.externally_accessible and self.external_policy is TrafficPolicy.LOCAL

    @property
    def uses_cluster_endpoints(self) -> bool:
        # Even with externalTrafficPolicy Local, pod and node traffic short-circuits
        # to the Cluster endpoints, so externally reachable ports always need them.
        return not self.internal_policy_local or self.externally_accessible

    @property
    def uses_local_endpoints(self) -> bool:
        return self.internal_policy_local or self.external_policy_local


@dataclass(frozen=True, order=True)
class Endpoint:
    ip: str
    port: int
    ready: bool = True
    serving: bool = True
    terminating: bool = False
    node_name: str | None = None

    def __str__(self) -> str:
        return f"{self.ip}:{self.port}"

    @property
    def serving_terminating(self) -> bool:
        return self.serving and self.terminating


def service_ports(svc: core.Service) -> dict[ServicePortName, ServicePort]:
    """The service ports of `svc` that get rules (none for headless/ExternalName)."""
    meta = svc.metadata
    if not meta.name:
        return {}
    namespace = meta.namespace or "default"
    cluster_ip = svc.cluster_ip
    if svc.type is ServiceType.EXTERNAL_NAME or cluster_ip in ("", core.HEADLESS) \
            or ":" in cluster_ip:
        return {}
    timeout = 0
    if svc.session_affinity is SessionAffinity.CLIENT_IP:
        timeout = svc.affinity_timeout_seconds or DEFAULT_AFFINITY_TIMEOUT
    is_lb = svc.type is ServiceType.LOAD_BALANCER
    lb_ips = svc.load_balancer_ingress_ips if is_lb else ()
    result: dict[ServicePortName, ServicePort] = {}
    for port in svc.ports:
        if port.protocol not in SUPPORTED_PROTOCOLS:
            continue
        name = ServicePortName(namespace, meta.name, port.name, port.protocol)
        result[name] = ServicePort(
            name=name, cluster_ip=cluster_ip, port=port.port,
            node_port=port.node_port if svc.externally_reachable else 0,
            external_ips=tuple(ip for ip in svc.external_ips if ":" not in ip),
            load_balancer_ips=lb_ips,
            load_balancer_source_ranges=svc.load_balancer_source_ranges if lb_ips else (),
            affinity_timeout=timeout,
            internal_policy=svc.internal_traffic_policy,
            external_policy=svc.external_traffic_policy,
            health_check_node_port=svc.health_check_node_port if is_lb else 0,
        )
    return result


@dataclass(frozen=True)
class SliceInfo:
    """What one EndpointSlice contributes: its service and endpoints per port."""

    service: ServiceName
    ports: tuple[tuple[ServicePortName, tuple[Endpoint, ...]], ...]
    trigger_time: str | None = field(default=None, compare=False)


def slice_info(es: discovery.EndpointSlice) -> SliceInfo | None:
    """None for slices the proxy ignores (no service label, not IPv4)."""
    meta = es.metadata
    svc_name = es.service_name
    if not svc_name or es.address_type is not AddressType.IPV4:
        return None
    namespace = meta.namespace or "default"
    endpoints = [(ep.addresses[0], ep.ready, ep.serving, ep.terminating, ep.node_name)
                 for ep in es.endpoints if ep.addresses]  # kube-proxy uses the first address
    ports = []
    for port in es.ports:
        if port.port is None:
            continue
        name = ServicePortName(namespace, svc_name, port.name, port.protocol)
        eps = tuple(sorted(Endpoint(ip, port.port, r, s, t, n) for ip, r, s, t, n in endpoints))
        ports.append((name, eps))
    return SliceInfo(ServiceName(namespace, svc_name), tuple(sorted(ports)),
                     meta.annotations.get(LAST_CHANGE_TRIGGER_TIME))


def merge_slices(slices: Iterable[SliceInfo]) -> dict[ServicePortName, tuple[Endpoint, ...]]:
    """Endpoints per service port over all slices of one service, deduplicated by ip:port."""
    merged: dict[ServicePortName, dict[str, Endpoint]] = {}
    for info in slices:
        for name, eps in info.ports:
            bucket = merged.setdefault(name, {})
            for ep in eps:
                bucket.setdefault(str(ep), ep)
    return {name: tuple(sorted(b.values())) for name, b in merged.items()}


@dataclass(frozen=True)
class Categorized:
    cluster: tuple[Endpoint, ...]
    local: tuple[Endpoint, ...]
    reachable: tuple[Endpoint, ...]
    has_any: bool


def _usable(endpoints: Iterable[Endpoint]) -> tuple[Endpoint, ...]:
    eps = tuple(endpoints)
    ready = tuple(ep for ep in eps if ep.ready)
    return ready or tuple(ep for ep in eps if ep.serving_terminating)


def categorize(endpoints: tuple[Endpoint, ...], sp: ServicePort, node_name: str) -> Categorized:
    """kube-proxy's CategorizeEndpoints, without topology hints."""
    cluster = _usable(endpoints) if sp.uses_cluster_endpoints else ()
    if not sp.uses_local_endpoints:
        return Categorized(cluster, (), cluster, bool(cluster))
    has_any = any(ep.ready or ep.serving_terminating for ep in endpoints)
    local = _usable(ep for ep in endpoints if ep.node_name == node_name)
    reachable = tuple(sorted(set(cluster) | set(local)))
    return Categorized(cluster, local, reachable, has_any)
