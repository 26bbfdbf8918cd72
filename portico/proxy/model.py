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

Everything here is pure and comparable, so change trackers can cancel no-op
updates by equality.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
LAST_CHANGE_TRIGGER_TIME = "endpoints.kubernetes.io/last-change-trigger-time"
DEFAULT_AFFINITY_TIMEOUT = 10800


class Protocol(StrEnum):
    TCP = "TCP"
    UDP = "UDP"
    SCTP = "SCTP"


class TrafficPolicy(StrEnum):
    CLUSTER = "Cluster"
    LOCAL = "Local"


class ServiceType(StrEnum):
    CLUSTER_IP = "ClusterIP"
    NODE_PORT = "NodePort"
    LOAD_BALANCER = "LoadBalancer"
    EXTERNAL_NAME = "ExternalName"


class SessionAffinity(StrEnum):
    NONE = "None"
    CLIENT_IP = "ClientIP"


E = TypeVar("E", bound=StrEnum)
Obj = dict[str, Any]

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


def _enum(kind: type[E], value: str | None, default: E) -> E:
    try:
        return kind(value) if value else default
    except ValueError:
        return default


def service_ports(svc: Obj) -> dict[ServicePortName, ServicePort]:
    """The service ports of `svc` that get rules (none for headless/ExternalName)."""
    meta, spec = svc.get("metadata") or {}, svc.get("spec") or {}
    if not meta.get("name"):
        return {}
    namespace = meta.get("namespace") or "default"
    svc_type = _enum(ServiceType, spec.get("type"), ServiceType.CLUSTER_IP)
    cluster_ip = spec.get("clusterIP") or ""
    if svc_type is ServiceType.EXTERNAL_NAME or cluster_ip in ("", "None") or ":" in cluster_ip:
        return {}
    timeout = 0
    if _enum(SessionAffinity, spec.get("sessionAffinity"), SessionAffinity.NONE) is \
            SessionAffinity.CLIENT_IP:
        client_ip = (spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}
        timeout = client_ip.get("timeoutSeconds") or DEFAULT_AFFINITY_TIMEOUT
    lb_ips: tuple[str, ...] = ()
    if svc_type is ServiceType.LOAD_BALANCER:
        ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or ()
        lb_ips = tuple(i["ip"] for i in ingress if i.get("ip"))
    result: dict[ServicePortName, ServicePort] = {}
    for port in spec.get("ports") or ():
        protocol = _enum(Protocol, port.get("protocol"), Protocol.TCP)
        if protocol not in SUPPORTED_PROTOCOLS:
            continue
        name = ServicePortName(namespace, meta["name"], port.get("name") or "", protocol)
        external = svc_type in (ServiceType.NODE_PORT, ServiceType.LOAD_BALANCER)
        result[name] = ServicePort(
            name=name, cluster_ip=cluster_ip, port=port["port"],
            node_port=(port.get("nodePort") or 0) if external else 0,
            external_ips=tuple(ip for ip in spec.get("externalIPs") or () if ":" not in ip),
            load_balancer_ips=lb_ips,
            load_balancer_source_ranges=tuple(spec.get("loadBalancerSourceRanges") or ())
            if lb_ips else (),
            affinity_timeout=timeout,
            internal_policy=_enum(TrafficPolicy, spec.get("internalTrafficPolicy"),
                                  TrafficPolicy.CLUSTER),
            external_policy=_enum(TrafficPolicy, spec.get("externalTrafficPolicy"),
                                  TrafficPolicy.CLUSTER),
            health_check_node_port=(spec.get("healthCheckNodePort") or 0)
            if svc_type is ServiceType.LOAD_BALANCER else 0,
        )
    return result


@dataclass(frozen=True)
class SliceInfo:
    """What one EndpointSlice contributes: its service and endpoints per port."""

    service: ServiceName
    ports: tuple[tuple[ServicePortName, tuple[Endpoint, ...]], ...]
    trigger_time: str | None = field(default=None, compare=False)


def slice_info(es: Obj) -> SliceInfo | None:
    """None for slices the proxy ignores (no service label, not IPv4)."""
    meta = es.get("metadata") or {}
    svc_name = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL)
    if not svc_name or es.get("addressType") != "IPv4":
        return None
    namespace = meta.get("namespace") or "default"
    endpoints: list[tuple[str, bool, bool, bool, str | None]] = []
    for ep in es.get("endpoints") or ():
        cond = ep.get("conditions") or {}
        ready = cond.get("ready") is not False
        serving = cond["serving"] if cond.get("serving") is not None else ready
        terminating = bool(cond.get("terminating"))
        for address in ep["addresses"][:1]:  # kube-proxy uses the first address only
            endpoints.append((address, ready, serving, terminating, ep.get("nodeName")))
    ports = []
    for port in es.get("ports") or ():
        if port.get("port") is None:
            continue
        protocol = _enum(Protocol, port.get("protocol"), Protocol.TCP)
        name = ServicePortName(namespace, svc_name, port.get("name") or "", protocol)
        eps = tuple(sorted(Endpoint(ip, port["port"], r, s, t, n)
                           for ip, r, s, t, n in endpoints))
        ports.append((name, eps))
    annotations = meta.get("annotations") or {}
    return SliceInfo(ServiceName(namespace, svc_name), tuple(sorted(ports)),
                     annotations.get(LAST_CHANGE_TRIGGER_TIME))


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
