"""Name -> records inside the cluster zone, as CoreDNS's `kubernetes` plugin resolves them.

Theory of operation (plugin/kubernetes parse.go + kubernetes.go, `pods insecure`):
a name below the zone, read right to left, is
    `[_port._proto. | endpoint.] service.namespace.(svc|pod).<zone>`.
`parse_request` splits it; more labels than that, or a fourth label from the
right that is neither `svc` nor `pod`, is an invalid request (NXDOMAIN).
`records` then looks the request up and returns either `None` -- a name error
(NXDOMAIN) -- or a tuple of `Hit`s, possibly empty (the name exists but has
nothing to show: NODATA). The same rules as CoreDNS decide which is which:
- the apex, `svc.<zone>` and `pod.<zone>` exist (NODATA);
- `<ns>.svc.<zone>` exists iff the namespace does;
- a ClusterIP Service exists for every port matching the `_port._proto`
  request (any port when there is none), one hit per (port, cluster IP);
- a headless Service, or any Service asked for one endpoint
  (`<endpoint>.<svc>...`), gives one hit per (published endpoint, matching
  port); with no such endpoint the name does not exist;
- an ExternalName Service is one hostname hit (a CNAME), never with an endpoint;
- `a-b-c-d.<ns>.pod.<zone>` is the IP a.b.c.d whenever it parses and the
  namespace exists (pods are not looked up: "insecure" mode).
Everything here is pure; names are lowercase label tuples relative to the zone.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from enum import StrEnum

from portico.dns._view import NO_PORT, DnsView, Service, ServiceKind

DNS_VERSION_LABEL = "dns-version"
DEFAULT_NS_LABELS = ("ns", "dns")
ANY = "*"


class Schema(StrEnum):
    """The fourth label from the right: CoreDNS's `Svc` and `Pod`."""

    SVC = "svc"
    POD = "pod"


@dataclass(frozen=True)
class Request:
    """CoreDNS's recordRequest; empty strings are 'not given', '*' matches anything."""

    schema: str = ""
    namespace: str = ""
    service: str = ""
    endpoint: str = ""
    port: str = ANY
    protocol: str = ANY


@dataclass(frozen=True)
class Hit:
    """One msg.Service: `domain` owns it (the SRV target); `host` is an IP or a hostname."""

    domain: str
    host: str
    port: int = NO_PORT

    @property
    def is_hostname(self) -> bool:
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            return True
        return False


class InvalidRequest(ValueError):
    """The name cannot be a Kubernetes name in this zone (NXDOMAIN)."""


def parse_request(labels: tuple[str, ...]) -> Request:
    """Split a zone-relative name; raises InvalidRequest for impossible shapes."""
    if not labels or labels in ((Schema.SVC,), (Schema.POD,)):
        return Request()
    segs = list(labels)
    schema = segs.pop()
    if schema not in (Schema.SVC, Schema.POD):
        raise InvalidRequest(".".join(labels))
    namespace = segs.pop() if segs else ""
    service = segs.pop() if segs else ""
    if not segs:
        return Request(schema=schema, namespace=namespace, service=service)
    if len(segs) == 1:
        return Request(schema=schema, namespace=namespace, service=service, endpoint=segs[0])
    if len(segs) == 2:
        return Request(schema=schema, namespace=namespace, service=service,
                       port=segs[0].removeprefix("_"), protocol=segs[1].removeprefix("_"))
    raise InvalidRequest(".".join(labels))


def _match(wanted: str, actual: str) -> bool:
    return wanted == ANY or wanted.lower() == actual.lower()


def records(labels: tuple[str, ...], view: DnsView) -> tuple[Hit, ...] | None:
    """The hits for a zone-relative name; None when the name does not exist."""
    try:
        request = parse_request(labels)
    except InvalidRequest:
        return None
    if not request.schema:
        return ()
    if request.namespace and request.namespace not in view.namespaces:
        return None
    if not request.namespace or not request.service:
        return ()
    if request.schema == Schema.POD:
        return _pod(request, view)
    service = view.services.get((request.namespace, request.service))
    if service is None:
        return None
    return _service_hits(request, service, view.zone)


def _pod(request: Request, view: DnsView) -> tuple[Hit, ...] | None:
    name = request.service
    if name.count("-") == 3 and "--" not in name:
        text = name.replace("-", ".")
    else:
        text = name.replace("-", ":")
    try:
        ip = str(ipaddress.ip_address(text))
    except ValueError:
        return None
    return (Hit(domain=f"{name}.{request.namespace}.pod.{view.zone}", host=ip),)


def _service_hits(request: Request, service: Service, zone: str) -> tuple[Hit, ...] | None:
    base = f"{service.name}.{service.namespace}.svc.{zone}"
    if service.kind == ServiceKind.EXTERNAL_NAME:
        if request.endpoint or not service.external_name:
            return None
        return (Hit(domain=base, host=service.external_name),)
    hits: list[Hit] = []
    if service.kind == ServiceKind.HEADLESS or request.endpoint:
        for ep in service.endpoints:
            if request.endpoint and request.endpoint != ep.hostname:
                continue
            for port in ep.ports:
                if _match(request.port, port.name) and _match(request.protocol, port.protocol):
                    hits.append(Hit(domain=f"{ep.hostname}.{base}", host=ep.ip, port=port.port))
        return tuple(hits) or None
    for port in service.ports:
        if _match(request.port, port.name) and _match(request.protocol, port.protocol):
            hits.extend(Hit(domain=base, host=ip, port=port.port) for ip in service.cluster_ips)
    return tuple(hits) if hits or _port_matched(request, service) else None


def _port_matched(request: Request, service: Service) -> bool:
    return any(_match(request.port, p.name) and _match(request.protocol, p.protocol)
               for p in service.ports)


def reverse(ip: str, view: DnsView) -> tuple[str, ...]:
    """PTR targets for an address: its Service (ClusterIP) or its endpoints' names."""
    try:
        key = str(ipaddress.ip_address(ip))
    except ValueError:
        return ()
    return view.reverse.get(key, ())
