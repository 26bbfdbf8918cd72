"""What a successful sync leaves to do, as values: stale UDP flows and Service health.

`_state` plans them without I/O; `_conntrack.clear` deletes the flows and
`_health.ServiceHealthServers` answers the cloud's probes from the health.

- `StaleFlow`: UDP has no connection to close, so conntrack keeps NATing a
  client's datagrams to the endpoint it first picked until the entry times out;
  a removed endpoint black-holes its clients (kubernetes#19029, #48370,
  #139628). For every UDP service port that lost an endpoint, the entries DNATed
  to it are deleted for each frontend (ClusterIP, external IPs, LB IPs:
  `--orig-dst`; NodePort: `--orig-port-dst`), like kube-proxy's
  conntrack.CleanStaleEntries.
- `ServiceHealth`: the ready endpoints this node has of a Service with a
  `healthCheckNodePort` (`externalTrafficPolicy: Local`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from portico.model.vocabulary import Protocol
from portico.proxy.model import ServiceName, ServicePort


@dataclass(frozen=True, order=True)
class StaleFlow:
    """Entries to `frontend` (an IP, or a NodePort when `node_port`) DNATed to `endpoint_ip`."""

    frontend: str
    endpoint_ip: str
    node_port: bool = False

    def argv(self) -> list[str]:
        match = ["--orig-port-dst", self.frontend] if self.node_port else \
            ["--orig-dst", self.frontend]
        return ["conntrack", "-D", "-p", "udp", *match, "--dst-nat", self.endpoint_ip]


def stale_flows(sp: ServicePort | None, removed_ips: Iterable[str]) -> list[StaleFlow]:
    """The flows to clear for a (previous) UDP service port that lost `removed_ips`."""
    if sp is None or sp.protocol is not Protocol.UDP:
        return []
    frontends = (sp.cluster_ip, *sp.external_ips, *sp.load_balancer_ips)
    flows = [StaleFlow(f, ip) for ip in removed_ips for f in frontends]
    if sp.node_port:
        flows += [StaleFlow(str(sp.node_port), ip, True) for ip in removed_ips]
    return sorted(set(flows))


@dataclass(frozen=True)
class ServiceHealth:
    service: ServiceName
    local_endpoints: int
