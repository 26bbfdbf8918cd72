"""The machine side of a cluster: the cloud netns, the VNet, the edge link and the node netns.

Theory of operation (names and addresses are fixed by `docs/architecture.md`):

    current netns ("the host", or a test's sandbox)
      pte-<N[:10]> 10.223.0.1/30   routes: node subnet, pod CIDR, service CIDR, LB pools
        | veth                      via 10.223.0.2 (the cloud side of the edge)
      edge0 10.223.0.2/30          in netns portico-N-cloud (ip_forward=1, no default route)
      vnet0 10.224.0.1/16          bridge; each node's pod /24 via that node's IP;
        | vn-node-I (veth)         the service CIDR is `unreachable` (ClusterIPs are node-local)
      eth0 10.224.0.(3+I)/16       in netns portico-N-node-I: default via 10.224.0.1,
                                   every other node's pod /24 via that node's IP (host-gw)

`plan(config)` is pure: it names and numbers everything.  `create(topology)` is
level-triggered: it observes what exists (netns, links), renders only the missing
objects plus idempotent `replace` commands for addresses and routes
(`_steps.render`), and applies them in a few batched `ip -batch -` runs, so a
3-node cluster comes up in a few tens of milliseconds and a second `create()`
changes nothing.  `destroy(name)` removes exactly the cluster's netns (cloud,
nodes, pods), its edge veth (recognised by the link alias `portico-edge:<N>`,
since the 10-character truncation of the name could collide) and, with the
link, the routes through it.  The node's pod bridge `cbr0` belongs to the node agent.

Invariants: only the edge veth lives in the current netns; nothing in the cloud
netns routes anywhere but to the edge, the VNet and the nodes, so no packet can
leave the machine; interface names are at most 15 characters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from enum import StrEnum
from ipaddress import IPv4Address, IPv4Network

NETNS_PREFIX = "portico"
VNET_BRIDGE = "vnet0"
EDGE_CLOUD_IF = "edge0"
NODE_NIC = "eth0"
POD_BRIDGE = "cbr0"
EDGE_HOST_PREFIX = "pte-"
EDGE_NAME_CHARS = 10
EDGE_ALIAS_PREFIX = "portico-edge:"
IFNAMSIZ = 15
FIRST_NODE_HOST = 4  # node-1 is the 4th address of the node subnet (AKS reserves .0-.3)
POD_PREFIX_LEN = 24
_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
NAME_MAX = 63


class Sysctl(StrEnum):
    """The kernel settings a netns of the topology gets (all set to 1 or 0 below)."""

    IP_FORWARD = "net.ipv4.ip_forward"
    BRIDGE_NF_CALL_IPTABLES = "net.bridge.bridge-nf-call-iptables"
    ROUTE_LOCALNET = "net.ipv4.conf.all.route_localnet"
    RP_FILTER_ALL = "net.ipv4.conf.all.rp_filter"
    RP_FILTER_DEFAULT = "net.ipv4.conf.default.rp_filter"


# The VNet bridge is a switch: frames between nodes are not handed to the cloud's ip hooks
# (br_netfilter), so only routed traffic (edge, LB frontends) meets the cloud's nftables.
CLOUD_SYSCTLS: tuple[tuple[Sysctl, int], ...] = (
    (Sysctl.IP_FORWARD, 1), (Sysctl.BRIDGE_NF_CALL_IPTABLES, 0),
    (Sysctl.RP_FILTER_ALL, 0), (Sysctl.RP_FILTER_DEFAULT, 0),
)
# rp_filter is the max of `all` and the device's value, which a new device copies from
# `default` (itself inherited from the host, often 2), so both are cleared before links exist.
NODE_SYSCTLS: tuple[tuple[Sysctl, int], ...] = (
    (Sysctl.IP_FORWARD, 1), (Sysctl.BRIDGE_NF_CALL_IPTABLES, 1), (Sysctl.ROUTE_LOCALNET, 1),
    (Sysctl.RP_FILTER_ALL, 0), (Sysctl.RP_FILTER_DEFAULT, 0),
)


class RouteType(StrEnum):
    """Route types (`ip route` vocabulary) the topology uses."""

    UNICAST = "unicast"
    UNREACHABLE = "unreachable"


@dataclass(frozen=True)
class Route:
    """One route: `dst` via `via` on `dev`, or an `unreachable` route."""

    dst: IPv4Network | str  # str only for "default"
    via: IPv4Address | None = None
    dev: str | None = None
    type: RouteType = RouteType.UNICAST

    def spec(self) -> str:
        """The route in `ip route` syntax, e.g. `10.244.1.0/24 via 10.224.0.5 dev vnet0`."""
        if self.type is RouteType.UNREACHABLE:
            return f"unreachable {self.dst}"
        parts = [str(self.dst)]
        if self.via is not None:
            parts += ["via", str(self.via)]
        if self.dev is not None:
            parts += ["dev", self.dev]
        return " ".join(parts)


@dataclass(frozen=True)
class TopologyConfig:
    """What the user chooses: the cluster name, the node count and the address plan."""

    name: str
    nodes: int
    node_subnet: IPv4Network = IPv4Network("10.224.0.0/16")
    pod_cidr: IPv4Network = IPv4Network("10.244.0.0/16")
    service_cidr: IPv4Network = IPv4Network("10.0.0.0/16")
    lb_pools: tuple[IPv4Network, ...] = (IPv4Network("198.51.100.0/24"),)
    edge: IPv4Network = IPv4Network("10.223.0.0/30")


@dataclass(frozen=True)
class NodePlan:
    """One node: its netns, VNet address, pod /24, bridge address and VNet bridge port."""

    index: int
    name: str
    netns: str
    ip: IPv4Address
    pod_cidr: IPv4Network
    bridge_ip: IPv4Address
    vnet_port: str


@dataclass(frozen=True)
class Topology:
    """Every name and address of one cluster's machine side (the value `plan` returns)."""

    config: TopologyConfig
    cloud_netns: str
    edge_host_if: str
    edge_host_ip: IPv4Address
    edge_cloud_ip: IPv4Address
    vnet_ip: IPv4Address
    nodes: tuple[NodePlan, ...] = field(default=())

    @property
    def edge_alias(self) -> str:
        """The alias on the host side of the edge that marks it as this cluster's."""
        return edge_alias(self.config.name)


def cloud_netns_name(name: str) -> str:
    return f"{NETNS_PREFIX}-{name}-cloud"


def node_netns_name(name: str, index: int) -> str:
    return f"{NETNS_PREFIX}-{name}-node-{index}"


def edge_host_if_name(name: str) -> str:
    return f"{EDGE_HOST_PREFIX}{name[:EDGE_NAME_CHARS]}"


def edge_alias(name: str) -> str:
    return f"{EDGE_ALIAS_PREFIX}{name}"


def owned_netns_pattern(name: str) -> re.Pattern[str]:
    """The netns names of cluster `name`: cloud, nodes and pods (and no other cluster's)."""
    return re.compile(rf"{NETNS_PREFIX}-{re.escape(name)}-(cloud|node-[0-9]+|pod-[0-9a-f]{{12}})")


def name_problem(name: str) -> str | None:
    """Why `name` cannot name a cluster (it names netns and links), or None."""
    if len(name) > NAME_MAX or not _NAME.fullmatch(name):
        return (f"cluster name {name!r} is not a DNS label (lowercase letters, digits "
                f"and '-', starting and ending with a letter or digit, at most {NAME_MAX} "
                f"characters)")
    return None


def _validate(config: TopologyConfig) -> None:
    problem = name_problem(config.name)
    if problem is not None:
        raise ValueError(problem)
    if config.nodes < 0:
        raise ValueError(f"nodes must be >= 0, not {config.nodes}")
    if config.edge.num_addresses < 4:
        raise ValueError(f"edge {config.edge} needs at least 2 host addresses (/30)")
    if config.pod_cidr.prefixlen > POD_PREFIX_LEN:
        raise ValueError(f"pod CIDR {config.pod_cidr} is smaller than one /24")


def plan_node(config: TopologyConfig, index: int) -> NodePlan:
    """Node `index` (1-based): IP = (FIRST_NODE_HOST - 1 + index)th of the node subnet."""
    ip = config.node_subnet.network_address + (FIRST_NODE_HOST - 1 + index)
    if index < 1 or ip not in config.node_subnet or ip == config.node_subnet.broadcast_address:
        raise ValueError(f"node {index} does not fit the node subnet {config.node_subnet}")
    pods = 2 ** (POD_PREFIX_LEN - config.pod_cidr.prefixlen)
    if index > pods:
        raise ValueError(f"node {index} does not fit the pod CIDR {config.pod_cidr} (/24 each)")
    base = config.pod_cidr.network_address + (index - 1) * 2 ** (32 - POD_PREFIX_LEN)
    pod_cidr = IPv4Network(f"{base}/{POD_PREFIX_LEN}")
    return NodePlan(
        index=index, name=f"node-{index}", netns=node_netns_name(config.name, index), ip=ip,
        pod_cidr=pod_cidr, bridge_ip=pod_cidr.network_address + 1, vnet_port=f"vn-node-{index}",
    )


def plan(config: TopologyConfig) -> Topology:
    """Every name and address of the topology of `config` (pure; raises ValueError)."""
    _validate(config)
    return Topology(
        config=config,
        cloud_netns=cloud_netns_name(config.name),
        edge_host_if=edge_host_if_name(config.name),
        edge_host_ip=config.edge.network_address + 1,
        edge_cloud_ip=config.edge.network_address + 2,
        vnet_ip=config.node_subnet.network_address + 1,
        nodes=tuple(plan_node(config, i) for i in range(1, config.nodes + 1)),
    )


def with_node(topology: Topology, node: NodePlan) -> Topology:
    """`topology` with `node` added (or replaced, by index), nodes sorted by index;
    `config.nodes` becomes the highest index."""
    nodes = {n.index: n for n in topology.nodes}
    nodes[node.index] = node
    ordered = tuple(nodes[i] for i in sorted(nodes))
    config = replace(topology.config, nodes=max(nodes))
    return replace(topology, config=config, nodes=ordered)


def host_routes(topology: Topology) -> tuple[Route, ...]:
    """Routes in the current netns: every cluster range via the cloud side of the edge."""
    c = topology.config
    ranges = (c.node_subnet, c.pod_cidr, c.service_cidr, *c.lb_pools)
    return tuple(Route(r, topology.edge_cloud_ip, topology.edge_host_if) for r in ranges)


def cloud_routes(topology: Topology) -> tuple[Route, ...]:
    """Routes in the cloud netns besides the connected ones: pod /24s, unreachable services."""
    pods = tuple(Route(n.pod_cidr, n.ip, VNET_BRIDGE) for n in topology.nodes)
    return (*pods, Route(topology.config.service_cidr, type=RouteType.UNREACHABLE))


def node_routes(topology: Topology, node: NodePlan) -> tuple[Route, ...]:
    """Routes in a node netns: default via the VNet router, other nodes' pod /24s (host-gw)."""
    others = tuple(Route(n.pod_cidr, n.ip, NODE_NIC) for n in topology.nodes if n != node)
    return (Route("default", topology.vnet_ip, NODE_NIC), *others)
