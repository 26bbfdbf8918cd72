"""`plan()` names and numbers the topology; `render()` turns what is missing into commands."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network

import pytest

from portico.cloud import (
    NodePlan,
    Route,
    RouteType,
    Topology,
    TopologyConfig,
    TopologyConflict,
    cloud_routes,
    host_routes,
    node_routes,
    plan,
    plan_node,
    with_node,
)
from portico.cloud._steps import Batch, Observed, Tool, render
from portico.cloud._topology import owned_netns_pattern

A = IPv4Address
N = IPv4Network
DEMO = plan(TopologyConfig("demo", 3))


def node(i: int, ip: str, pods: str, bridge: str) -> NodePlan:
    return NodePlan(i, f"node-{i}", f"portico-demo-node-{i}", A(ip), N(pods), A(bridge),
                    f"vn-node-{i}")


def test_plan_three_nodes() -> None:
    got = plan(TopologyConfig("demo", 3))
    assert got == Topology(
        config=TopologyConfig("demo", 3),
        cloud_netns="portico-demo-cloud",
        edge_host_if="pte-demo",
        edge_host_ip=A("10.223.0.1"),
        edge_cloud_ip=A("10.223.0.2"),
        vnet_ip=A("10.224.0.1"),
        nodes=(
            node(1, "10.224.0.4", "10.244.0.0/24", "10.244.0.1"),
            node(2, "10.224.0.5", "10.244.1.0/24", "10.244.1.1"),
            node(3, "10.224.0.6", "10.244.2.0/24", "10.244.2.1"),
        ),
    )
    assert got.edge_alias == "portico-edge:demo"


def test_routes() -> None:
    via_edge = A("10.223.0.2")
    assert host_routes(DEMO) == (
        Route(N("10.224.0.0/16"), via_edge, "pte-demo"),
        Route(N("10.244.0.0/16"), via_edge, "pte-demo"),
        Route(N("10.0.0.0/16"), via_edge, "pte-demo"),
        Route(N("198.51.100.0/24"), via_edge, "pte-demo"),
    )
    assert [r.spec() for r in cloud_routes(DEMO)] == [
        "10.244.0.0/24 via 10.224.0.4 dev vnet0",
        "10.244.1.0/24 via 10.224.0.5 dev vnet0",
        "10.244.2.0/24 via 10.224.0.6 dev vnet0",
        "unreachable 10.0.0.0/16",
    ]
    assert cloud_routes(DEMO)[-1].type is RouteType.UNREACHABLE
    assert [r.spec() for r in node_routes(DEMO, DEMO.nodes[1])] == [
        "default via 10.224.0.1 dev eth0",
        "10.244.0.0/24 via 10.224.0.4 dev eth0",
        "10.244.2.0/24 via 10.224.0.6 dev eth0",
    ]


@pytest.mark.parametrize(
    ("config", "edge_if", "last"),
    [
        pytest.param(TopologyConfig("a-very-long-cluster-name", 1), "pte-a-very-lon",
                     node(1, "10.224.0.4", "10.244.0.0/24", "10.244.0.1"), id="truncated-edge"),
        pytest.param(TopologyConfig("demo", 253), "pte-demo",
                     node(253, "10.224.1.0", "10.244.252.0/24", "10.244.252.1"),
                     id="node-253-crosses-octet"),
    ],
)
def test_plan_edges(config: TopologyConfig, edge_if: str, last: NodePlan) -> None:
    topology = plan(config)
    assert topology.edge_host_if == edge_if
    assert len(topology.edge_host_if) <= 15
    got = topology.nodes[-1]
    assert (got.index, got.ip, got.pod_cidr, got.bridge_ip, got.vnet_port) == (
        last.index, last.ip, last.pod_cidr, last.bridge_ip, last.vnet_port)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        pytest.param(TopologyConfig("Demo", 1), "not a DNS label", id="uppercase"),
        pytest.param(TopologyConfig("demo-", 1), "not a DNS label", id="trailing-dash"),
        pytest.param(TopologyConfig("d" * 64, 1), "not a DNS label", id="too-long"),
        pytest.param(TopologyConfig("demo", -1), "nodes must be >= 0", id="negative"),
        pytest.param(TopologyConfig("demo", 257), "does not fit the pod CIDR", id="pods-full"),
        pytest.param(TopologyConfig("demo", 2, node_subnet=N("10.224.0.0/30")),
                     "does not fit the node subnet", id="subnet-full"),
        pytest.param(TopologyConfig("demo", 1, pod_cidr=N("10.244.0.0/25")),
                     "smaller than one /24", id="pod-cidr-too-small"),
        pytest.param(TopologyConfig("demo", 1, edge=N("10.223.0.0/31")),
                     "at least 2 host addresses", id="edge-too-small"),
    ],
)
def test_plan_rejects(config: TopologyConfig, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        plan(config)


def test_with_node_adds_routes_everywhere() -> None:
    two = plan(TopologyConfig("demo", 2))
    grown = with_node(two, plan_node(two.config, 3))
    assert grown == DEMO


SYSCTL_NODE = ("net.ipv4.ip_forward=1", "net.bridge.bridge-nf-call-iptables=1",
               "net.ipv4.conf.all.route_localnet=1", "net.ipv4.conf.all.rp_filter=0",
               "net.ipv4.conf.default.rp_filter=0")
SYSCTL_CLOUD = ("net.ipv4.ip_forward=1", "net.bridge.bridge-nf-call-iptables=0",
                "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0")
ONE = plan(TopologyConfig("demo", 1))
CLOUD_TAIL = (
    "address replace 10.224.0.1/16 dev vnet0",
    "link set dev vnet0 up",
    "address replace 10.223.0.2/30 dev edge0",
    "link set dev edge0 up",
)
NODE_1 = Batch(Tool.IP, "portico-demo-node-1", (
    "link set dev lo up",
    "address replace 10.224.0.4/16 dev eth0",
    "link set dev eth0 up",
    "route replace default via 10.224.0.1 dev eth0",
))
COMPLETE = Observed(
    netns=frozenset({"portico-demo-cloud", "portico-demo-node-1", "portico-other-cloud"}),
    links={
        None: frozenset({"pte-demo"}),
        "portico-demo-cloud": frozenset({"lo", "edge0", "vnet0", "vn-node-1"}),
        "portico-demo-node-1": frozenset({"lo", "eth0"}),
    },
    edge_alias="portico-edge:demo",
    edge_routes=frozenset({"10.223.0.0/30", "10.224.0.0/16", "10.244.0.0/16", "10.0.0.0/16",
                           "198.51.100.0/24"}),
)
SYSCTLS = (Batch(Tool.SYSCTL, "portico-demo-cloud", SYSCTL_CLOUD),
           Batch(Tool.SYSCTL, "portico-demo-node-1", SYSCTL_NODE))


def test_render_from_nothing() -> None:
    assert render(ONE, Observed()) == (
        (Batch(Tool.IP, None, ("netns add portico-demo-cloud", "netns add portico-demo-node-1")),),
        SYSCTLS,
        (Batch(Tool.IP, None, (
            "link add pte-demo type veth peer name edge0 netns portico-demo-cloud",
            "link set dev pte-demo alias portico-edge:demo",
            "address replace 10.223.0.1/30 dev pte-demo",
            "link set dev pte-demo up",
            "route add 10.224.0.0/16 via 10.223.0.2 dev pte-demo",
            "route add 10.244.0.0/16 via 10.223.0.2 dev pte-demo",
            "route add 10.0.0.0/16 via 10.223.0.2 dev pte-demo",
            "route add 198.51.100.0/24 via 10.223.0.2 dev pte-demo",
        )),),
        (Batch(Tool.IP, "portico-demo-cloud", (
            "link set dev lo up",
            "link add vnet0 type bridge",
            *CLOUD_TAIL,
            "link add vn-node-1 type veth peer name eth0 netns portico-demo-node-1",
            "link set dev vn-node-1 master vnet0 up",
            "route replace 10.244.0.0/24 via 10.224.0.4 dev vnet0",
            "route replace unreachable 10.0.0.0/16",
        )),),
        (NODE_1,),
    )


def test_render_complete_adds_nothing() -> None:
    assert render(ONE, COMPLETE) == (
        SYSCTLS,
        (Batch(Tool.IP, None, ("address replace 10.223.0.1/30 dev pte-demo",
                               "link set dev pte-demo up")),),
        (Batch(Tool.IP, "portico-demo-cloud", (
            "link set dev lo up",
            *CLOUD_TAIL,
            "link set dev vn-node-1 master vnet0 up",
            "route replace 10.244.0.0/24 via 10.224.0.4 dev vnet0",
            "route replace unreachable 10.0.0.0/16",
        )),),
        (NODE_1,),
    )


def test_render_recreated_node_netns_drops_orphan_port() -> None:
    """node-1's netns was deleted: its port on the VNet bridge is an orphan half."""
    observed = Observed(
        netns=frozenset({"portico-demo-cloud"}),
        links={**COMPLETE.links, "portico-demo-node-1": frozenset()},
        edge_alias=COMPLETE.edge_alias, edge_routes=COMPLETE.edge_routes,
    )
    stages = render(ONE, observed)
    assert stages[0] == (Batch(Tool.IP, None, ("netns add portico-demo-node-1",)),)
    assert stages[1] == (*SYSCTLS, Batch(Tool.IP, "portico-demo-cloud", ("link del vn-node-1",),
                                         force=True))
    assert "link add vn-node-1 type veth peer name eth0 netns portico-demo-node-1" in (
        stages[3][0].lines)


def test_render_recreated_cloud_netns_rebuilds_edge() -> None:
    observed = Observed(
        netns=frozenset({"portico-demo-cloud", "portico-demo-node-1"}),
        links={None: frozenset({"pte-demo"}), "portico-demo-cloud": frozenset({"lo"}),
               "portico-demo-node-1": frozenset({"lo", "eth0"})},
        edge_alias="portico-edge:demo", edge_routes=COMPLETE.edge_routes,
    )
    stages = render(ONE, observed)
    assert stages[0] == (*SYSCTLS, Batch(Tool.IP, None, ("link del pte-demo",), force=True),
                         Batch(Tool.IP, "portico-demo-node-1", ("link del eth0",), force=True))
    assert stages[1][0].lines[0] == (
        "link add pte-demo type veth peer name edge0 netns portico-demo-cloud")
    assert sum(line.startswith("route add") for line in stages[1][0].lines) == 4


def test_render_replaces_stale_netns_files() -> None:
    """A netns file with nothing mounted on it (its mount namespace ended) is re-made."""
    observed = Observed(netns=frozenset({"portico-demo-cloud"}),
                        stale_netns=frozenset({"portico-demo-node-1"}),
                        links={"portico-demo-cloud": frozenset({"lo", "vnet0"})})
    assert render(ONE, observed)[0] == (Batch(Tool.IP, None, (
        "netns del portico-demo-node-1", "netns add portico-demo-node-1")),)


def test_render_refuses_another_clusters_edge() -> None:
    observed = Observed(links={None: frozenset({"pte-demo"})}, edge_alias="portico-edge:demo2")
    with pytest.raises(TopologyConflict, match="belongs to another cluster"):
        render(ONE, observed)


@pytest.mark.parametrize(
    ("netns", "owned"),
    [
        pytest.param("portico-demo-cloud", True, id="cloud"),
        pytest.param("portico-demo-node-12", True, id="node"),
        pytest.param("portico-demo-pod-0123456789ab", True, id="pod"),
        pytest.param("portico-demo-x-cloud", False, id="other-cluster-with-dash"),
        pytest.param("portico-demo-node-node-1", False, id="cluster-demo-node"),
        pytest.param("portico-demox-cloud", False, id="longer-name"),
        pytest.param("portico-tdemo", False, id="sandbox"),
    ],
)
def test_owned_netns(netns: str, owned: bool) -> None:
    assert bool(owned_netns_pattern("demo").fullmatch(netns)) is owned


def test_batch_argv() -> None:
    assert Batch(Tool.IP, None, ("x",)).argv() == ["ip", "-batch", "-"]
    assert Batch(Tool.IP, "ns", ("a", "b")).argv() == ["ip", "-n", "ns", "-batch", "-"]
    assert Batch(Tool.IP, "ns", ("a", "b")).stdin() == "a\nb\n"
    assert Batch(Tool.IP, None, ("x",), force=True).argv() == ["ip", "-force", "-batch", "-"]
    assert Batch(Tool.SYSCTL, "ns", ("k=1",)).argv() == [
        "nsenter", "--net=/run/netns/ns", "sysctl", "-q", "-w", "k=1"]
