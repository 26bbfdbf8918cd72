"""The immutable snapshot the DNS answer function reads: `DnsView`, built from API objects.

Theory of operation: the watcher keeps the raw Namespace, Service and
EndpointSlice objects (plain Kubernetes JSON dicts) and, after every change,
calls `build_view` to turn them into one frozen `DnsView`, which the server
swaps in atomically. `answer()` never sees a half-applied change.

The view holds what CoreDNS's `kubernetes` plugin indexes:
- services by (namespace, name), each with its kind (ClusterIP / headless /
  ExternalName), cluster IPs, ports and the endpoints DNS may publish: ready
  ones (a missing `ready` condition counts as ready, as in CoreDNS), plus
  not-ready ones when the Service sets `publishNotReadyAddresses`;
- a reverse index IP -> names for PTR: a ClusterIP maps to its Service's name
  (the first Service in (namespace, name) order wins), otherwise every
  endpoint carrying the IP maps to
  `<endpoint hostname>.<svc>.<ns>.svc.<zone>`;
- the existing namespaces (CoreDNS answers NXDOMAIN for names in a namespace
  that does not exist, NODATA for `<ns>.svc.<zone>` when it does);
- the `kube-dns` Service's cluster IPs, served as `ns.dns.<zone>`.

Invariants: names are lowercase; the zone has no trailing dot; nothing here
does I/O.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from portico.model.core import HEADLESS
from portico.model.discovery import SERVICE_NAME_LABEL
from portico.model.vocabulary import AddressType, ServiceType

DEFAULT_ZONE = "cluster.local"
DEFAULT_TTL = 5
DNS_SERVICE = ("kube-system", "kube-dns")
NO_PORT = -1


class ServiceKind(StrEnum):
    """How DNS publishes a Service."""

    CLUSTER_IP = "ClusterIP"  # ClusterIP, NodePort, LoadBalancer: A -> the cluster IPs
    HEADLESS = "Headless"  # clusterIP None: A -> each published endpoint
    EXTERNAL_NAME = "ExternalName"  # CNAME -> spec.externalName


@dataclass(frozen=True)
class Port:
    name: str
    protocol: str
    port: int


@dataclass(frozen=True)
class Endpoint:
    ip: str
    hostname: str  # spec hostname, or the dashed IP (10-244-0-5) as CoreDNS names it
    ports: tuple[Port, ...]


@dataclass(frozen=True)
class Service:
    namespace: str
    name: str
    kind: ServiceKind
    cluster_ips: tuple[str, ...] = ()
    external_name: str = ""
    ports: tuple[Port, ...] = ()
    endpoints: tuple[Endpoint, ...] = ()


def _frozen(mapping: dict[Any, Any] | None = None) -> Mapping[Any, Any]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class DnsView:
    zone: str = DEFAULT_ZONE
    ttl: int = DEFAULT_TTL
    serial: int = 0
    synced: bool = True
    namespaces: frozenset[str] = frozenset()
    services: Mapping[tuple[str, str], Service] = field(default_factory=_frozen)
    reverse: Mapping[str, tuple[str, ...]] = field(default_factory=_frozen)
    nameservers: tuple[str, ...] = ()


def endpoint_hostname(ip: str, hostname: str | None) -> str:
    """CoreDNS's endpointHostname: the hostname, else the IP with '.'/':' turned into '-'."""
    if hostname:
        return hostname.lower()
    return ip.replace(".", "-").replace(":", "-").lower()


def _meta(obj: Mapping[str, Any]) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


def _ports(raw: Iterable[Mapping[str, Any]] | None) -> tuple[Port, ...]:
    """Declared ports; CoreDNS's sentinel port -1 when there are none."""
    return tuple(Port(name=str(p.get("name") or ""), protocol=str(p.get("protocol") or "TCP"),
                      port=int(p["port"]) if p.get("port") is not None else NO_PORT)
                 for p in raw or ()) or (Port(name="", protocol="", port=NO_PORT),)


def _service_kind(spec: Mapping[str, Any]) -> ServiceKind:
    if spec.get("type") == ServiceType.EXTERNAL_NAME:
        return ServiceKind.EXTERNAL_NAME
    if spec.get("clusterIP") == HEADLESS:
        return ServiceKind.HEADLESS
    return ServiceKind.CLUSTER_IP


def _cluster_ips(spec: Mapping[str, Any]) -> tuple[str, ...]:
    ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
    return tuple(ip for ip in ips if ip and ip != HEADLESS)


def _published(slice_: Mapping[str, Any], not_ready_too: bool) -> list[Endpoint]:
    if slice_.get("addressType", AddressType.IPV4) == AddressType.FQDN:
        return []
    ports = _ports(slice_.get("ports"))
    found: list[Endpoint] = []
    for ep in slice_.get("endpoints") or ():
        ready = (ep.get("conditions") or {}).get("ready")
        if ready is False and not not_ready_too:
            continue
        for ip in ep.get("addresses") or ():
            hostname = endpoint_hostname(str(ip), ep.get("hostname"))
            found.append(Endpoint(ip=str(ip), hostname=hostname, ports=ports))
    return found


def _slices_by_service(slices: Iterable[Mapping[str, Any]]
                       ) -> dict[tuple[str, str], list[Mapping[str, Any]]]:
    grouped: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for slice_ in slices:
        namespace, _ = _meta(slice_)
        labels = (slice_.get("metadata") or {}).get("labels") or {}
        owner = labels.get(SERVICE_NAME_LABEL)
        if owner:
            grouped.setdefault((namespace, str(owner)), []).append(slice_)
    return grouped


def _service(obj: Mapping[str, Any], slices: list[Mapping[str, Any]]) -> Service:
    namespace, name = _meta(obj)
    spec = obj.get("spec") or {}
    kind = _service_kind(spec)
    endpoints: list[Endpoint] = []
    if kind != ServiceKind.EXTERNAL_NAME:
        for slice_ in slices:
            endpoints.extend(_published(slice_, bool(spec.get("publishNotReadyAddresses"))))
    return Service(namespace=namespace, name=name, kind=kind,
                   cluster_ips=_cluster_ips(spec) if kind == ServiceKind.CLUSTER_IP else (),
                   external_name=str(spec.get("externalName") or "").lower().rstrip("."),
                   ports=_ports(spec.get("ports")), endpoints=tuple(endpoints))


def _reverse_index(services: Iterable[Service], zone: str) -> dict[str, tuple[str, ...]]:
    by_cluster_ip: dict[str, tuple[str, ...]] = {}
    by_endpoint: dict[str, list[str]] = {}
    for svc in services:
        base = f"{svc.name}.{svc.namespace}.svc.{zone}"
        for ip in svc.cluster_ips:
            by_cluster_ip.setdefault(_canonical_ip(ip), (base,))
        for ep in svc.endpoints:
            names = by_endpoint.setdefault(_canonical_ip(ep.ip), [])
            name = f"{ep.hostname}.{base}"
            if name not in names:
                names.append(name)
    reverse = {ip: tuple(names) for ip, names in by_endpoint.items()}
    reverse.update(by_cluster_ip)
    return reverse


def _canonical_ip(ip: str) -> str:
    try:
        return str(ipaddress.ip_address(ip))
    except ValueError:
        return ip


def build_view(namespaces: Iterable[Mapping[str, Any]], services: Iterable[Mapping[str, Any]],
               slices: Iterable[Mapping[str, Any]], *, zone: str = DEFAULT_ZONE,
               ttl: int = DEFAULT_TTL, serial: int = 0, synced: bool = True) -> DnsView:
    """The whole snapshot from raw API objects (dicts as the API serves them)."""
    zone = zone.lower().strip(".")
    grouped = _slices_by_service(slices)
    built = {}
    for obj in services:
        key = _meta(obj)
        if key[1]:
            built[key] = _service(obj, grouped.get(key, []))
    ordered = [built[key] for key in sorted(built)]
    dns_service = built.get(DNS_SERVICE)
    return DnsView(zone=zone, ttl=ttl, serial=serial, synced=synced,
                   namespaces=frozenset(_meta(ns)[1] for ns in namespaces),
                   services=_frozen(built), reverse=_frozen(_reverse_index(ordered, zone)),
                   nameservers=dns_service.cluster_ips if dns_service else ())
