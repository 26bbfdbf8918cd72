"""Render the commands that bring a topology up, from what already exists (pure).

`render(topology, observed)` returns stages; each stage is a tuple of `Batch`es
that run in parallel (each one process: `ip [-n NS] -batch -` fed the lines on
stdin, or `nsenter --net=/run/netns/NS sysctl -q -w k=v ...`), and stages run in
order because each needs the previous one:

    0. `netns add` for every missing netns (`netns del` first for a stale file)
    1. sysctls in every netns (before any link exists there, so new devices copy
       `default.rp_filter=0`), and deletion of orphaned halves of veth pairs
    2. the edge veth, its address and the routes into the cloud  (current netns)
    3. the VNet bridge, the edge's cloud side, one veth per node, pod routes (cloud)
    4. each node's eth0 address, default route and host-gw routes (nodes, in parallel)

Only missing links are added; addresses and routes in the cloud and node netns
use `replace`, which is a no-op when they are already right, so rendering
against a complete topology yields commands that change nothing.  Routes in the
current netns are shared with whatever else lives there, so they are `add`ed
only when missing from the edge link: a conflicting route elsewhere makes the
batch fail instead of being silently replaced.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from portico.cloud._topology import (
    CLOUD_SYSCTLS,
    EDGE_CLOUD_IF,
    NODE_NIC,
    NODE_SYSCTLS,
    VNET_BRIDGE,
    NodePlan,
    Topology,
    cloud_routes,
    host_routes,
    node_routes,
)

NETNS_RUN_DIR = "/run/netns"
LOOPBACK = "lo"


class Tool(StrEnum):
    """How a batch runs."""

    IP = "ip"
    SYSCTL = "sysctl"


class TopologyConflict(RuntimeError):
    """Something that is not this cluster's already uses one of its names."""


@dataclass(frozen=True)
class Batch:
    """Lines run by one process in one netns (None = the current netns)."""

    tool: Tool
    netns: str | None
    lines: tuple[str, ...]
    force: bool = False  # best effort: run every line, ignore failures

    def argv(self) -> list[str]:
        if self.tool is Tool.SYSCTL:
            assert self.netns is not None, "sysctls are only written in the topology's netns"
            return ["nsenter", f"--net={NETNS_RUN_DIR}/{self.netns}",
                    "sysctl", "-q", "-w", *self.lines]
        where = ["-n", self.netns] if self.netns else []
        return ["ip", *where, *(["-force"] if self.force else []), "-batch", "-"]

    def stdin(self) -> str:
        return "".join(f"{line}\n" for line in self.lines) if self.tool is Tool.IP else ""


Stage = tuple[Batch, ...]


@dataclass(frozen=True)
class Observed:
    """What exists: live netns names, link names per observed netns (None = current
    netns), the alias of the current netns' edge link (None when absent), the
    destinations of the routes through it, and stale netns files (no netns mounted
    on them in our mount namespace; see `_netops.netns_files`)."""

    netns: frozenset[str] = frozenset()
    links: Mapping[str | None, frozenset[str]] = field(default_factory=dict)
    edge_alias: str | None = None
    edge_routes: frozenset[str] = frozenset()
    stale_netns: frozenset[str] = frozenset()

    def has_link(self, netns: str | None, name: str) -> bool:
        return name in self.links.get(netns, frozenset())


@dataclass(frozen=True)
class VethPair:
    """A veth pair, created from `netns` with its peer put into `peer_netns`."""

    netns: str | None
    name: str
    peer_netns: str
    peer_name: str

    def add(self) -> str:
        return f"link add {self.name} type veth peer name {self.peer_name} netns {self.peer_netns}"


def edge_pair(topology: Topology) -> VethPair:
    return VethPair(None, topology.edge_host_if, topology.cloud_netns, EDGE_CLOUD_IF)


def node_pair(topology: Topology, node: NodePlan) -> VethPair:
    return VethPair(topology.cloud_netns, node.vnet_port, node.netns, NODE_NIC)


def _sysctl_lines(values: tuple[tuple[str, int], ...]) -> tuple[str, ...]:
    return tuple(f"{key}={value}" for key, value in values)


def _orphans(pairs: list[VethPair], observed: Observed) -> dict[str | None, list[str]]:
    """Halves of pairs whose other half is gone (e.g. its netns was re-created): delete."""
    doomed: dict[str | None, list[str]] = {}
    for p in pairs:
        here, there = observed.has_link(p.netns, p.name), observed.has_link(p.peer_netns,
                                                                            p.peer_name)
        if here and not there:
            doomed.setdefault(p.netns, []).append(f"link del {p.name}")
        elif there and not here:
            doomed.setdefault(p.peer_netns, []).append(f"link del {p.peer_name}")
    return doomed


def _complete(pair: VethPair, observed: Observed) -> bool:
    return observed.has_link(pair.netns, pair.name) and observed.has_link(
        pair.peer_netns, pair.peer_name)


def _host(topology: Topology, observed: Observed) -> tuple[str, ...]:
    pair = edge_pair(topology)
    dev = topology.edge_host_if
    lines: list[str] = []
    fresh = not _complete(pair, observed)
    if fresh:
        lines += [pair.add(), f"link set dev {dev} alias {topology.edge_alias}"]
    prefix = topology.config.edge.prefixlen
    lines += [f"address replace {topology.edge_host_ip}/{prefix} dev {dev}",
              f"link set dev {dev} up"]
    present = frozenset() if fresh else observed.edge_routes
    lines += [f"route add {r.spec()}" for r in host_routes(topology) if str(r.dst) not in present]
    return tuple(lines)


def _cloud(topology: Topology, observed: Observed) -> tuple[str, ...]:
    ns = topology.cloud_netns
    vnet_prefix = topology.config.node_subnet.prefixlen
    lines = [f"link set dev {LOOPBACK} up"]
    if not observed.has_link(ns, VNET_BRIDGE):
        lines.append(f"link add {VNET_BRIDGE} type bridge")
    lines += [
        f"address replace {topology.vnet_ip}/{vnet_prefix} dev {VNET_BRIDGE}",
        f"link set dev {VNET_BRIDGE} up",
        f"address replace {topology.edge_cloud_ip}/{topology.config.edge.prefixlen}"
        f" dev {EDGE_CLOUD_IF}",
        f"link set dev {EDGE_CLOUD_IF} up",
    ]
    for node in topology.nodes:
        pair = node_pair(topology, node)
        if not _complete(pair, observed):
            lines.append(pair.add())
        lines.append(f"link set dev {node.vnet_port} master {VNET_BRIDGE} up")
    lines += [f"route replace {r.spec()}" for r in cloud_routes(topology)]
    return tuple(lines)


def _node(topology: Topology, node: NodePlan) -> tuple[str, ...]:
    prefix = topology.config.node_subnet.prefixlen
    return (
        f"link set dev {LOOPBACK} up",
        f"address replace {node.ip}/{prefix} dev {NODE_NIC}",
        f"link set dev {NODE_NIC} up",
        *(f"route replace {r.spec()}" for r in node_routes(topology, node)),
    )


def check_edge_owner(topology: Topology, observed: Observed) -> None:
    """Raise TopologyConflict when the edge link's name is taken by another cluster."""
    if observed.edge_alias is not None and observed.edge_alias != topology.edge_alias:
        raise TopologyConflict(
            f"link {topology.edge_host_if} exists with alias {observed.edge_alias!r},"
            f" not {topology.edge_alias!r}: it belongs to another cluster")


def render(topology: Topology, observed: Observed) -> tuple[Stage, ...]:
    """The stages that make `topology` exist, given what `observed` says exists."""
    check_edge_owner(topology, observed)
    wanted = [topology.cloud_netns, *(n.netns for n in topology.nodes)]
    missing = tuple(line for ns in wanted if ns not in observed.netns for line in (
        *((f"netns del {ns}",) if ns in observed.stale_netns else ()), f"netns add {ns}"))
    sysctls = [Batch(Tool.SYSCTL, topology.cloud_netns, _sysctl_lines(CLOUD_SYSCTLS))]
    sysctls += [Batch(Tool.SYSCTL, n.netns, _sysctl_lines(NODE_SYSCTLS)) for n in topology.nodes]
    pairs = [edge_pair(topology), *(node_pair(topology, n) for n in topology.nodes)]
    # Best effort: the kernel may be removing an orphan already (a deleted netns' devices
    # go asynchronously); one that survives makes the later `link add` fail loudly.
    orphans = [Batch(Tool.IP, ns, tuple(lines), force=True)
               for ns, lines in _orphans(pairs, observed).items()]
    stages: list[Stage] = [
        (Batch(Tool.IP, None, missing),),
        (*sysctls, *orphans),
        (Batch(Tool.IP, None, _host(topology, observed)),),
        (Batch(Tool.IP, topology.cloud_netns, _cloud(topology, observed)),),
        tuple(Batch(Tool.IP, n.netns, _node(topology, n)) for n in topology.nodes),
    ]
    return tuple(stage for stage in (tuple(b for b in s if b.lines) for s in stages) if stage)
