"""The NetworkPolicy reachability matrix, as the upstream `netpol` e2e suite builds it.

Theory of operation. Namespaces x, y, z each hold pods a, b, c (a on node-1, b on
node-2, c on node-3, so pairs cover one node and across nodes); every pod serves
TCP and UDP on ports 80 and 81 (two agnhost netexec containers, named ports
`serve-80-tcp` ...). A `Prober` is one long-lived Python process per source pod,
started inside that pod's network namespace (entered from the sandbox); asked for
a list of (ip, port, protocol) it probes them all at once (TCP connect, UDP
`hostname` and a reply) with a short timeout and answers which succeeded. A whole
9 x 9 matrix is therefore one round of at most one timeout.

`Reachability` is upstream's truth table (`NewReachability(pods, true)`,
`Expect`, `ExpectPeer`, `ExpectAllIngress`, `ExpectAllEgress`); a pod's traffic to
itself is always allowed in Portico (upstream leaves loopback undefined), so the
diagonal is expected to be reachable. `wait_matrix` probes until the observed
table equals the expected one, and fails with both tables printed.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from cluster_support import VENV_PYTHON

from portico.testing.sandbox import Cluster, end_process, wait_for

NAMESPACES = ("x", "y", "z")
POD_NAMES = ("a", "b", "c")
PODS = tuple(f"{ns}/{p}" for ns in NAMESPACES for p in POD_NAMES)
PORTS = (80, 81)
PROBE_TIMEOUT = 0.6

PROBER = r"""
import json, socket, sys
from concurrent.futures import ThreadPoolExecutor

def probe(target, timeout):
    ip, port, proto = target
    kind = socket.SOCK_STREAM if proto == "TCP" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as s:
        s.settimeout(timeout)
        try:
            if proto == "TCP":
                s.connect((ip, port))
                return True
            s.sendto(b"hostname", (ip, port))
            return bool(s.recv(512))
        except OSError:
            return False

pool = ThreadPoolExecutor(64)
for line in sys.stdin:
    request = json.loads(line)
    timeout = request["timeout"]
    results = list(pool.map(lambda t: probe(t, timeout), request["targets"]))
    print(json.dumps(results), flush=True)
"""


def server_pod(namespace: str, name: str, node: int) -> dict[str, Any]:
    """Pod `name` in `namespace` on node-`node`, serving TCP and UDP on 80 and 81."""
    containers = [{
        "name": f"cont-{port}", "image": "registry.k8s.io/e2e-test-images/agnhost:2.53",
        "args": ["netexec", f"--http-port={port}", f"--udp-port={port}"],
        "ports": [{"name": f"serve-{port}-{proto.lower()}", "containerPort": port,
                   "protocol": proto} for proto in ("TCP", "UDP")],
    } for port in PORTS]
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": {"pod": name}},
            "spec": {"nodeName": f"node-{node}", "terminationGracePeriodSeconds": 0,
                     "containers": containers}}


class Prober:
    """One probing process inside a pod's network namespace."""

    def __init__(self, cluster: Cluster, netns: str) -> None:
        self.proc = cluster.sandbox.popen(
            ["nsenter", f"--net=/run/netns/{netns}", "--", VENV_PYTHON, "-c", PROBER],
            stdin=subprocess.PIPE)

    def send(self, targets: list[tuple[str, int, str]], timeout: float) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"targets": targets, "timeout": timeout}) + "\n")
        self.proc.stdin.flush()

    def receive(self) -> list[bool]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            error = self.proc.stderr.read() if self.proc.stderr else ""
            raise RuntimeError(f"prober ended: {error}")
        return [bool(x) for x in json.loads(line)]

    def close(self) -> None:
        end_process(self.proc)


@dataclass
class Reachability:
    """Upstream's truth table for one (port, protocol): from pod -> to pod -> allowed."""

    port: int = 80
    protocol: str = "TCP"
    table: dict[tuple[str, str], bool] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.table = {(f, t): True for f in PODS for t in PODS}

    def expect(self, src: str, dst: str, allowed: bool) -> Reachability:
        self.table[(src, dst)] = allowed
        return self

    def expect_peer(self, src: str = "", dst: str = "", allowed: bool = False) -> Reachability:
        """`ExpectPeer`: "" matches every pod, "x" a namespace, "x/a" one pod."""
        for f, t in self.table:
            if _matches(src, f) and _matches(dst, t):
                self.table[(f, t)] = allowed
        return self

    def all_ingress(self, dst: str, allowed: bool) -> Reachability:
        return self.expect_peer("", dst, allowed)

    def all_egress(self, src: str, allowed: bool) -> Reachability:
        return self.expect_peer(src, "", allowed)

    def expected(self) -> dict[tuple[str, str], bool]:
        return {(f, t): allowed or f == t for (f, t), allowed in self.table.items()}


def _matches(pattern: str, pod: str) -> bool:
    return not pattern or pattern == pod or pattern == pod.split("/")[0]


def render(table: dict[tuple[str, str], bool]) -> str:
    """Upstream's printout: rows are sources, columns destinations, X = blocked."""
    lines = ["-\t" + "\t".join(PODS)]
    for f in PODS:
        lines.append(f + "\t" + "\t".join("." if table[(f, t)] else "X" for t in PODS))
    return "\n".join(lines)


class Matrix:
    """The probers of every pod, and the pods' addresses."""

    def __init__(self, probers: dict[str, Prober], ips: dict[str, str],
                 netns: dict[str, str]) -> None:
        self.probers = probers
        self.ips = ips
        self.netns = netns

    def observe(self, checks: Iterable[Reachability]) -> list[dict[tuple[str, str], bool]]:
        checks = list(checks)
        targets = [(self.ips[t], c.port, c.protocol) for c in checks for t in PODS]
        for prober in self.probers.values():
            prober.send(targets, PROBE_TIMEOUT)
        results = {src: prober.receive() for src, prober in self.probers.items()}
        tables = []
        for i, _check in enumerate(checks):
            base = i * len(PODS)
            tables.append({(f, t): results[f][base + j] for f in PODS
                           for j, t in enumerate(PODS)})
        return tables

    def wait(self, *checks: Reachability, timeout: float = 20.0) -> None:
        """Probe until every table is as expected (the rules are programmed asynchronously)."""
        observed: list[dict[tuple[str, str], bool]] = []

        def matches() -> bool:
            observed[:] = self.observe(checks)
            return all(o == c.expected() for o, c in zip(observed, checks, strict=True))

        try:
            wait_for(matches, timeout, interval=0.05, message="reachability matrix")
        except Exception:
            report = [f"{c.protocol}/{c.port} expected:\n{render(c.expected())}\n"
                      f"observed:\n{render(o)}" for c, o in zip(checks, observed, strict=True)]
            raise AssertionError("\n\n".join(report)) from None


HOLDER = r"""
import socket, sys
ip, port = sys.argv[1], int(sys.argv[2])
s = socket.create_connection((ip, port), timeout=3)
s.settimeout(2)
request = f"GET /hostname HTTP/1.1\r\nHost: {ip}\r\n\r\n".encode()

def ask():
    try:
        s.sendall(request)
        return "ok" if s.recv(4096) else "closed"
    except OSError as e:
        return f"fail {e!r}"

print(ask(), flush=True)
for _ in sys.stdin:
    print(ask(), flush=True)
"""


class HeldConnection:
    """One keep-alive HTTP connection from a pod, asked for a response on demand."""

    def __init__(self, cluster: Cluster, netns: str, ip: str, port: int) -> None:
        self.proc = cluster.sandbox.popen(
            ["nsenter", f"--net=/run/netns/{netns}", "--", VENV_PYTHON, "-c", HOLDER,
             ip, str(port)], stdin=subprocess.PIPE)
        assert self.read() == "ok"

    def read(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.readline().strip()

    def ask(self) -> str:
        assert self.proc.stdin is not None
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()
        return self.read()

    def close(self) -> None:
        end_process(self.proc)
