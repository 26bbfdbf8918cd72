"""A two-node cluster's data path without a control plane, for `bench/dataplane.py`.

Theory of operation. `TrafficCluster` builds the machine side of a real cluster
(`portico.cloud`: cloud netns, VNet, edge link, two node netns; the current netns,
a private one from `_sandbox`, is the host), a pod bridge per node and three pods:
the server (the built-in nginx on port 80) and a client on node-1, a client on
node-2.  One Service (ClusterIP `SERVICE_IP`:80, NodePort `NODE_PORT`, Cluster
policy) has the server as its endpoint.

Each node's nftables are in one of three states, switched with `use(state)`:
- `NONE`: no tables at all (no netfilter hook in the node, so no conntrack either:
  a node without Service rules, which no running cluster has);
- `PORTICO`: Portico's own table, rendered by the proxy's code (`ProxyState`) for
  that node, as the node agent would program it (also for direct traffic to the
  pod IP: a running node always has it, and so its connections pass conntrack);
- `REFERENCE`: one hand-written table `ip portico-bench-dnat`: a single DNAT rule
  per Service address (ClusterIP; on the server's node also nodeIP:NodePort, with
  one masquerade rule for it, as the Service's Cluster policy requires), the
  kernel's floor for the same Service.
Every `use` flushes conntrack (in the cloud netns and the nodes), so no connection
outlives the rules it was set up by, and no measurement inherits another's entries.
`close()` stops the server and removes every netns and link (`destroy`).
"""

from __future__ import annotations

import enum
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import _wrk
from portico.cloud import NodePlan, TopologyConfig, create, destroy, plan
from portico.model.vocabulary import Protocol
from portico.proxy._state import ProxyState
from portico.proxy.config import ProxyConfig
from portico.proxy.model import Endpoint, ServiceName, ServicePort, ServicePortName, SliceInfo

SERVICE_IP, SERVICE_PORT, NODE_PORT, SERVER_PORT = "10.0.0.100", 80, 30080, 80
REFERENCE_TABLE = "portico-bench-dnat"


class Rules(enum.Enum):
    NONE = "no tables"
    PORTICO = "Portico's table"
    REFERENCE = "hand-written DNAT rule"


def sh(*argv: str, inp: str | None = None) -> str:
    result = subprocess.run(argv, input=inp, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {result.stderr}")
    return result.stdout


def portico_rules(node: NodePlan, server_ip: str) -> str:
    """Portico's table for `node` with the one Service, as `nft -f` input."""
    config = ProxyConfig(node_name=node.name, node_ip=str(node.ip), pod_cidr=str(node.pod_cidr),
                         metrics_address="", healthz_address="")
    state = ProxyState(config)
    name = ServiceName("bench", "web")
    spn = ServicePortName("bench", "web", "http", Protocol.TCP)
    state.service_changes.update(name, None, {spn: ServicePort(
        spn, SERVICE_IP, SERVICE_PORT, node_port=NODE_PORT)}, 0)
    endpoints = (Endpoint(server_ip, SERVER_PORT, node_name="node-1"),)
    state.slice_changes.update(("bench", "web-1"), None, SliceInfo(name, ((spn, endpoints),)), 0)
    return state.plan().tx.script()


def reference_rules(node: NodePlan, server_ip: str, node_port: bool) -> str:
    """The hand-written table: one DNAT rule per Service address (pure)."""
    target = f"{server_ip}:{SERVER_PORT}"
    rules = [f"ip daddr {SERVICE_IP} tcp dport {SERVICE_PORT} dnat to {target}"]
    masquerade = ""
    if node_port:
        rules.append(f"ip daddr {node.ip} tcp dport {NODE_PORT} dnat to {target}")
        masquerade = (f"  chain postrouting {{ type nat hook postrouting priority srcnat; "
                      f"ct original ip daddr {node.ip} masquerade; }}\n")
    body = "; ".join(rules)
    return (f"table ip {REFERENCE_TABLE} {{\n"
            f"  chain prerouting {{ type nat hook prerouting priority dstnat; {body}; }}\n"
            f"{masquerade}}}\n")


class TrafficCluster:
    def __init__(self) -> None:
        self.name = f"b{secrets.token_hex(3)}"
        self.topology = plan(TopologyConfig(self.name, 2))
        self.node1, self.node2 = self.topology.nodes
        self.server_ip = str(self.node1.pod_cidr.network_address + 2)
        self.workdir = Path(tempfile.mkdtemp(prefix="portico-bench-"))
        self.server: subprocess.Popen[bytes] | None = None
        self.rules = Rules.NONE
        self.pods: dict[str, str] = {}
        """pod -> IP"""
        self._netns: dict[str, str] = {}

    def pod_netns(self, pod: str) -> str:
        """The pod's netns, named as a pod of this cluster (so `destroy` removes it)."""
        return self._netns.setdefault(pod, f"portico-{self.name}-pod-{secrets.token_hex(6)}")

    def start(self) -> None:
        create(self.topology)
        for node in self.topology.nodes:
            self._bridge(node)
        self._pod(self.node1, "server", 2)
        self._pod(self.node1, "client1", 3)
        self._pod(self.node2, "client2", 2)
        self.server = start_nginx(self.pod_netns("server"), self.workdir)
        self.server_ticks = _wrk.group_ticks(self.server.pid)
        wait_serving(self.pod_netns("client1"), f"http://{self.server_ip}:{SERVER_PORT}/")

    def _bridge(self, node: NodePlan) -> None:
        sh("ip", "-n", node.netns, "-batch", "-", inp=(
            f"link add cbr0 type bridge\naddr add {node.bridge_ip}/24 dev cbr0\n"
            "link set cbr0 up\n"))

    def _pod(self, node: NodePlan, pod: str, host: int) -> None:
        netns, veth = self.pod_netns(pod), f"vb{self.name}{host}{node.index}"
        ip = node.pod_cidr.network_address + host
        sh("ip", "netns", "add", netns)
        sh("ip", "-n", node.netns, "-batch", "-", inp=(
            f"link add {veth} type veth peer name eth0 netns {netns}\n"
            f"link set {veth} master cbr0 up\n"))
        sh("ip", "-n", netns, "-batch", "-", inp=(
            f"link set lo up\naddr add {ip}/24 dev eth0\nlink set eth0 up\n"
            f"route add default via {node.bridge_ip}\n"))
        self.pods[pod] = str(ip)

    def use(self, rules: Rules) -> None:
        """Switch every node's tables to `rules` and flush conntrack (`_wrk.flush_conntrack`:
        also when the rules stay, so no measurement inherits another's entries)."""
        if rules is not self.rules:
            for node in self.topology.nodes:
                for family, table in (("inet", "portico-proxy"), ("ip", REFERENCE_TABLE)):
                    subprocess.run(["ip", "netns", "exec", node.netns, "nft", "delete",
                                    "table", family, table], capture_output=True, check=False)
                if rules is Rules.PORTICO:
                    script = portico_rules(node, self.server_ip)
                elif rules is Rules.REFERENCE:
                    script = reference_rules(node, self.server_ip, node is self.node1)
                else:
                    script = ""
                if script:
                    sh("ip", "netns", "exec", node.netns, "nft", "-f", "-", inp=script)
            self.rules = rules
        _wrk.flush_conntrack([self.topology.cloud_netns,
                              *(node.netns for node in self.topology.nodes)])

    def close(self) -> None:
        stop_server(self.server)
        destroy(self.name)
        shutil.rmtree(self.workdir, ignore_errors=True)


def start_nginx(netns: str, workdir: Path, port: int = SERVER_PORT) -> subprocess.Popen[bytes]:
    """The built-in nginx image in `netns` (its own process group); access log to a file."""
    _wrk.drop_time_wait(netns)
    env = dict(os.environ, PORTICO_CONTAINER_DIR=str(workdir), PORTICO_NGINX_PORT=str(port))
    with open(workdir / f"nginx-{netns}.log", "wb") as log:
        return subprocess.Popen(["ip", "netns", "exec", netns, sys.executable, "-m",
                                 "portico.images.nginx"], stdout=log, stderr=log, env=env,
                                start_new_session=True)


def wait_serving(netns: str, url: str, timeout: float = 15.0, host: str | None = None) -> None:
    """Until `url` answers 2xx from `netns` (with Host `host` if given), at most `timeout`."""
    deadline = time.monotonic() + timeout
    header = ["-H", f"Host: {host}"] if host else []
    while subprocess.run(["ip", "netns", "exec", netns, "curl", "-sf", "-o", "/dev/null",
                          "--max-time", "1", *header, url], check=False).returncode != 0:
        if time.monotonic() > deadline:
            raise TimeoutError(f"nobody answers {url} from {netns}")
        time.sleep(0.1)


def stop_server(server: subprocess.Popen[bytes] | None) -> None:
    if server is None or server.poll() is not None:
        return
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(10)
