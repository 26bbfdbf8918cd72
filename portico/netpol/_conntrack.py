"""Cut connections a policy change forbids; keep the ones still allowed.

Theory of operation. The filter chains accept `ct state established,related`
first, so a policy change alone never touches a running connection. Upstream
leaves the effect on existing connections to the implementation; Portico follows
kube-network-policies' strict mode (kubernetes-sigs/kube-network-policies#268: the
conntrack table is evaluated against the current policies, and entries no longer
allowed are expired so their next packets are judged again), where Calico and
Antrea let running connections go on. Shortly after a sync whose rules may forbid
something (not one that only added pods to peer sets; a burst of syncs shares one
pass) the agent lists its node's conntrack table, asks the model (`Cluster`, the
same one that rendered the rules) about each flow from or to a local pod, and deletes
the entries of the flows it now forbids. The next packet of such a flow is a new
connection for the kernel (`nf_conntrack_tcp_loose` picks TCP up mid-stream), and
the policy chains drop it; flows still allowed keep their entry and never notice.

A flow is judged as the rules judge its first packet: the source pod's egress
toward the endpoint (the reply's source: after the Service DNAT) and the
endpoint's ingress from the address it sees (the reply's destination: after any
source NAT).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from portico.model.vocabulary import Protocol
from portico.netpol.model import Cluster, Direction
from portico.proxy.apply import netns_argv

log = logging.getLogger("portico.netpol.conntrack")

_PROTOCOLS = {"tcp": Protocol.TCP, "udp": Protocol.UDP, "sctp": Protocol.SCTP}
_CLOSED = {"TIME_WAIT", "CLOSE", "CLOSED"}
"""TCP/SCTP states of finished connections: nothing to cut (the table keeps them a while)."""


@dataclass(frozen=True)
class Flow:
    protocol: Protocol
    src: str
    dst: str
    sport: int
    dport: int
    endpoint: str
    """The reply's source: the pod (or address) the connection really goes to."""
    endpoint_port: int
    seen_source: str
    """The reply's destination: the source address the endpoint sees."""

    def delete_argv(self) -> list[str]:
        """Every entry of this client, frontend, port and endpoint (one command for many)."""
        return ["conntrack", "-D", "-p", self.protocol.lower(), "-s", self.src, "-d", self.dst,
                "--dport", str(self.dport), "--reply-src", self.endpoint]


def parse_flows(text: str) -> list[Flow]:
    """The tcp/udp/sctp entries of `conntrack -L` output."""
    flows = []
    for line in text.splitlines():
        words = line.split()
        if not words or words[0] not in _PROTOCOLS or _CLOSED.intersection(words):
            continue
        values: dict[str, list[str]] = {}
        for word in words:
            key, sep, value = word.partition("=")
            if sep:
                values.setdefault(key, []).append(value)
        try:
            src, dst = values["src"], values["dst"]
            sport, dport = values["sport"], values["dport"]
            flows.append(Flow(_PROTOCOLS[words[0]], src[0], dst[0], int(sport[0]),
                              int(dport[0]), src[1], int(sport[1]), dst[1]))
        except (KeyError, IndexError, ValueError):
            continue
    return flows


def forbidden(cluster: Cluster, node: str, flow: Flow) -> bool:
    """Whether this node's rules would now drop the flow's first packet."""
    source, endpoint = cluster.pods.get(flow.src), cluster.pods.get(flow.endpoint)
    if flow.src == flow.endpoint:
        return False
    if source is not None and source.node == node:
        egress = cluster.verdict(Direction.EGRESS, source, flow.endpoint, flow.protocol,
                                 flow.endpoint_port, endpoint)
        if not egress.allowed:
            return True
    if endpoint is None or endpoint.node != node or flow.seen_source == flow.endpoint:
        return False
    if flow.seen_source in cluster.node_addresses.get(node, frozenset()):
        return False
    return not cluster.verdict(Direction.INGRESS, endpoint, flow.seen_source, flow.protocol,
                               flow.endpoint_port, endpoint).allowed


async def _run(netns: str | None, argv: list[str]) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        *netns_argv(netns, *argv), stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL)
    out, _ = await proc.communicate()
    return proc.returncode or 0, out.decode(errors="replace")


async def cut_forbidden(cluster: Cluster, node: str, netns: str | None) -> int:
    """Delete the conntrack entries of flows the policies now forbid; returns the commands
    that deleted something (one per client, frontend, port and endpoint)."""
    try:
        code, out = await _run(netns, ["conntrack", "-L"])
    except OSError as exc:
        log.warning("conntrack unavailable: %s", exc)
        return 0
    if code != 0:
        return 0
    commands = {tuple(f.delete_argv()) for f in parse_flows(out) if forbidden(cluster, node, f)}
    cut = 0
    for argv in sorted(commands):
        code, _ = await _run(netns, list(argv))
        cut += code == 0
    return cut
