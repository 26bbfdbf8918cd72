"""Delete stale UDP conntrack entries after endpoints go away.

UDP has no connection to close: conntrack keeps NATing a client's datagrams to
the endpoint it first picked until the entry times out, so a removed endpoint
black-holes its clients (kubernetes#19029, #48370, #139628). After a sync, for
every UDP service port that lost an endpoint, delete the entries that were
DNATed to it, for each frontend (ClusterIP, external IPs, LB IPs: `--orig-dst`;
NodePort: `--orig-port-dst`), like kube-proxy's conntrack.CleanStaleEntries.
`conntrack -D` exits 1 when nothing matched, which is fine.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from portico.model.vocabulary import Protocol
from portico.proxy.apply import netns_argv
from portico.proxy.model import ServicePort

log = logging.getLogger("portico.proxy.conntrack")


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


async def clear(flows: Iterable[StaleFlow], netns: str | None) -> int:
    """Run `conntrack -D` for each flow; returns how many commands failed unexpectedly."""
    failures = 0
    for flow in flows:
        try:
            proc = await asyncio.create_subprocess_exec(
                *netns_argv(netns, *flow.argv()), stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE)
            _, err = await proc.communicate()
        except OSError as exc:
            log.warning("conntrack unavailable: %s", exc)
            return failures + 1
        if proc.returncode not in (0, 1):
            failures += 1
            log.warning("%s: %s", " ".join(flow.argv()), err.decode().strip())
    return failures
