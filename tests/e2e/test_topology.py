"""The real topology, built inside a sandbox netns standing in for "the host".

`create`/`destroy` run in a Python process inside the sandbox
(`portico.testing.topology.SandboxTopology`).  The
checks run `ip -n`, sysctl and a small ICMP echo client (`PING`; the machine has
no ping binary) in the node netns and the sandbox.  Everything is removed on
leaving the `with` block, also when a check fails.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest

from portico.cloud import owned_netns
from portico.cloud._netops import list_netns
from portico.testing.topology import SandboxTopology

# Echo requests to every target (argv), one JSON map target -> replied back.
PING = r"""
import json, os, select, socket, struct, sys, time
def checksum(data):
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    return ~(total + (total >> 16)) & 0xFFFF
ident = os.getpid() & 0xFFFF
sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
pending = {}
for seq, dst in enumerate(sys.argv[1:], 1):
    body = struct.pack("!BBHHH", 8, 0, 0, ident, seq) + b"portico-topology"
    packet = body[:2] + struct.pack("!H", checksum(body)) + body[4:]
    try:
        sock.sendto(packet, (dst, 0))
        pending[seq] = dst
    except OSError:
        pass
replied, refused = set(), set()
deadline = time.monotonic() + 2.0
while pending.keys() - replied - refused and time.monotonic() < deadline:
    ready, _, _ = select.select([sock], [], [], max(0.0, deadline - time.monotonic()))
    if not ready:
        break
    data, (src, _) = sock.recvfrom(2048)
    ihl = (data[0] & 0x0F) * 4
    kind, _, _, rid, seq = struct.unpack("!BBHHH", data[ihl:ihl + 8])
    if kind == 0 and rid == ident and pending.get(seq) == src:
        replied.add(seq)
    elif kind in (3, 11):  # unreachable, time exceeded: quotes our header after its own
        inner = data[ihl + 8:]
        inner = inner[(inner[0] & 0x0F) * 4:]
        _, _, _, rid, seq = struct.unpack("!BBHHH", inner[:8])
        if rid == ident:
            refused.add(seq)
print(json.dumps({dst: seq in replied for seq, dst in enumerate(sys.argv[1:], 1)}))
"""

ADD_NODE = """
import sys
from portico.cloud import TopologyConfig, add_node, plan, plan_node
topology = plan(TopologyConfig(sys.argv[1], int(sys.argv[2])))
add_node(topology, plan_node(topology.config, int(sys.argv[2]) + 1))
"""


class Built(SandboxTopology):
    """The sandboxed topology, with ICMP checks from its netns."""

    def create(self) -> float:
        seconds = super().create()
        print(f"create() of {len(self.topology.nodes)} nodes took {seconds * 1000:.1f} ms")
        return seconds

    def ping(self, source: str, *targets: str) -> dict[str, bool]:
        """Which targets answer an ICMP echo sent from netns `source` ("sandbox" or a node)."""
        argv = [sys.executable, "-c", PING, *targets]
        if source == "sandbox":
            out = self.sandbox.run(argv, check=True).stdout
        else:
            out = run(["ip", "netns", "exec", self.netns(source), *argv])
        return dict(json.loads(out))

    def netns(self, node: str) -> str:
        return next(n.netns for n in self.topology.nodes if n.name == node)


def run(argv: list[str]) -> str:
    return subprocess.run(argv, capture_output=True, text=True, check=True, timeout=30).stdout


def route_lines(text: str) -> list[str]:
    """`ip route` lines without the `linkdown` flag: a bridge's carrier follows its ports'
    a moment later (the kernel's linkwatch is asynchronous); routes work meanwhile."""
    return [line.replace(" linkdown", "").strip() for line in text.splitlines()]


@pytest.fixture(scope="module")
def topo() -> Iterator[Built]:
    """A 3-node topology with a stand-in pod bridge (cbr0, 10.244.1.1/24) on node-2."""
    with Built(3) as built:
        built.create()
        node2 = built.topology.nodes[1]
        bridge = f"{node2.bridge_ip}/{node2.pod_cidr.prefixlen}"
        subprocess.run(["ip", "-n", node2.netns, "-batch", "-"], check=True, text=True,
                       input=f"link add cbr0 type bridge\naddress add {bridge} dev cbr0\n"
                             "link set dev cbr0 up\n", timeout=30)
        yield built
        built.destroy()


@pytest.fixture
def fresh() -> Iterator[Built]:
    with Built(3) as built:
        yield built


@pytest.mark.parametrize(
    ("node", "address"),
    [
        pytest.param("node-1", "10.224.0.4/16", id="node-1"),
        pytest.param("node-2", "10.224.0.5/16", id="node-2"),
        pytest.param("node-3", "10.224.0.6/16", id="node-3"),
    ],
)
def test_node_netns_has_its_address_and_sysctls(topo: Built, node: str, address: str) -> None:
    netns = topo.netns(node)
    assert netns in list_netns()
    links = json.loads(run(["ip", "-n", netns, "-j", "-4", "address", "show", "dev", "eth0"]))
    assert [f"{a['local']}/{a['prefixlen']}" for a in links[0]["addr_info"]] == [address]
    keys = ["net.ipv4.ip_forward", "net.bridge.bridge-nf-call-iptables",
            "net.ipv4.conf.all.route_localnet", "net.ipv4.conf.all.rp_filter",
            "net.ipv4.conf.eth0.rp_filter"]
    values = run(["ip", "netns", "exec", netns, "sysctl", "-n", *keys]).split()
    assert values == ["1", "1", "1", "0", "0"]


@pytest.mark.parametrize(
    ("source", "targets", "expected"),
    [
        pytest.param("node-1", ["10.224.0.6"], [True], id="node-1-to-node-3"),
        pytest.param("sandbox", ["10.224.0.4", "10.224.0.5", "10.224.0.6"], [True] * 3,
                     id="sandbox-to-every-node"),
        pytest.param("node-1", ["10.244.1.1"], [True], id="node-1-to-node-2-pod-cidr"),
        pytest.param("sandbox", ["10.244.1.1"], [True], id="sandbox-to-node-2-pod-cidr"),
        pytest.param("node-3", ["10.223.0.1", "10.224.0.1"], [True, True],
                     id="node-3-to-edge-and-router"),
        pytest.param("sandbox", ["10.0.0.1", "10.244.2.1"], [False, False],
                     id="service-cidr-unreachable-and-no-bridge-on-node-3"),
    ],
)
def test_reachability(topo: Built, source: str, targets: list[str],
                      expected: list[bool]) -> None:
    assert topo.ping(source, *targets) == dict(zip(targets, expected, strict=True))


def test_routes(topo: Built) -> None:
    t = topo.topology
    host = route_lines(topo.sandbox.run(["ip", "-4", "route", "show"], check=True).stdout)
    dev = t.edge_host_if
    assert sorted(host) == sorted([
        f"10.0.0.0/16 via 10.223.0.2 dev {dev}",
        f"10.223.0.0/30 dev {dev} proto kernel scope link src 10.223.0.1",
        f"10.224.0.0/16 via 10.223.0.2 dev {dev}",
        f"10.244.0.0/16 via 10.223.0.2 dev {dev}",
        f"198.51.100.0/24 via 10.223.0.2 dev {dev}",
    ])
    assert route_lines(run(["ip", "-n", t.cloud_netns, "-4", "route", "show"])) == [
        "unreachable 10.0.0.0/16",
        "10.223.0.0/30 dev edge0 proto kernel scope link src 10.223.0.2",
        "10.224.0.0/16 dev vnet0 proto kernel scope link src 10.224.0.1",
        "10.244.0.0/24 via 10.224.0.4 dev vnet0",
        "10.244.1.0/24 via 10.224.0.5 dev vnet0",
        "10.244.2.0/24 via 10.224.0.6 dev vnet0",
    ]


def snapshot(built: Built) -> dict[str, object]:
    """Links (name -> index, master, up), IPv4 addresses and routes of every netns."""
    state: dict[str, object] = {}
    for ns in [built.topology.cloud_netns, *(n.netns for n in built.topology.nodes)]:
        links = json.loads(run(["ip", "-n", ns, "-j", "link", "show"]))
        state[ns] = (
            sorted((x["ifname"], x["ifindex"], x.get("master"), "UP" in x["flags"])
                   for x in links),
            run(["ip", "-n", ns, "-4", "-o", "address", "show"]),
            route_lines(run(["ip", "-n", ns, "-4", "route", "show", "table", "all"])),
        )
    state["sandbox"] = (
        sandbox_run(built, ["ip", "-o", "link", "show"]),
        route_lines(sandbox_run(built, ["ip", "-4", "route", "show"])),
    )
    return state


def sandbox_run(built: Built, argv: list[str]) -> str:
    return built.sandbox.run(argv, check=True).stdout


def test_create_again_is_a_noop_and_destroy_removes_everything(fresh: Built) -> None:
    t = fresh.topology
    fresh.create()
    before = snapshot(fresh)
    fresh.create()
    assert snapshot(fresh) == before
    removed = fresh.destroy()
    dev, name = t.edge_host_if, t.config.name
    assert removed == [
        f"link {dev}",
        f"route 10.0.0.0/16 dev {dev}",
        f"route 10.223.0.0/30 dev {dev}",
        f"route 10.224.0.0/16 dev {dev}",
        f"route 10.244.0.0/16 dev {dev}",
        f"route 198.51.100.0/24 dev {dev}",
        f"netns portico-{name}-cloud",
        f"netns portico-{name}-node-1",
        f"netns portico-{name}-node-2",
        f"netns portico-{name}-node-3",
    ]
    assert owned_netns(name) == []
    links = sandbox_run(fresh, ["ip", "-o", "link", "show"]).splitlines()
    assert [line.split(":")[1].strip() for line in links] == ["lo"]
    assert sandbox_run(fresh, ["ip", "-4", "route", "show"]) == ""
    assert fresh.destroy() == []


def test_recreate_after_losing_a_node_netns(fresh: Built) -> None:
    """After a crash that lost node-2's netns, create() rebuilds it and its links."""
    fresh.create()
    node2 = fresh.topology.nodes[1]
    run(["ip", "netns", "del", node2.netns])
    fresh.create()
    assert fresh.ping("node-1", str(node2.ip)) == {str(node2.ip): True}
    assert fresh.ping("sandbox", str(node2.ip)) == {str(node2.ip): True}
    fresh.destroy()


def test_add_node_scales_up() -> None:
    with Built(2) as built:
        built.create()
        name = built.topology.config.name
        built.python(ADD_NODE, name, "2")
        node1 = built.topology.nodes[0].netns
        assert "10.244.2.0/24 via 10.224.0.6 dev eth0" in route_lines(
            run(["ip", "-n", node1, "-4", "route", "show"]))
        assert built.ping("node-1", "10.224.0.6") == {"10.224.0.6": True}
        assert built.ping("sandbox", "10.224.0.6") == {"10.224.0.6": True}
        assert f"netns portico-{name}-node-3" in built.destroy()
