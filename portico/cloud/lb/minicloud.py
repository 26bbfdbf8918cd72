"""A miniature AKS topology for the load balancer's tests and benchmark.

Builds, with `ip` only and all inside namespaces of our own (nothing in the
caller's netns): a "host" netns (the client side), a cloud netns with the edge
link (`edge0`, 10.223.0.2/30) and the VNet bridge `vnet0` (10.224.0.1/16), and
node netns on the bridge (node-I = 10.224.0.(3+I), default via 10.224.0.1). The
host routes the public pool and the node subnet into the cloud, as
`docs/architecture.md` specifies. Each node treats the whole public pool and the
top /24 of the node subnet as local addresses (`ip route add local ...`), which
stands in for the node's "floating IP" Service rules: a server listening on
0.0.0.0 answers for any frontend address. `close()` ends our processes and
removes every namespace (links go with them).
"""

from __future__ import annotations

import contextlib
import secrets
import subprocess
import sys
from dataclasses import dataclass, field

EDGE_HOST = "10.223.0.1"
EDGE_CLOUD = "10.223.0.2"
VNET_ROUTER = "10.224.0.1"
PUBLIC_POOL = "198.51.100.0/24"
NODE_SUBNET = "10.224.0.0/16"
LOCAL_INTERNAL = "10.224.255.0/24"  # internal frontends come from the top down

SERVER = r"""
import http.server, socketserver, sys, threading
name = sys.argv[1]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"{name} {self.client_address[0]}".encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body)))
        self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True; allow_reuse_address = True; request_queue_size = 256
servers = [S(("0.0.0.0", int(p)), H) for p in sys.argv[2:]]
for s in servers[1:]:
    threading.Thread(target=s.serve_forever, daemon=True).start()
print("ready", flush=True)
servers[0].serve_forever()
"""


def ip(*args: str, netns: str | None = None) -> None:
    argv = ["ip", *(["-n", netns] if netns else []), *args]
    subprocess.run(argv, check=True, capture_output=True, text=True)


@dataclass
class MiniCloud:
    nodes: int = 2
    prefix: str = field(default_factory=lambda: f"portico-lbt{secrets.token_hex(3)}")
    created: list[str] = field(default_factory=list)
    processes: list[subprocess.Popen[str]] = field(default_factory=list)

    @property
    def host(self) -> str:
        return f"{self.prefix}-host"

    @property
    def cloud(self) -> str:
        return f"{self.prefix}-cloud"

    def node(self, i: int) -> str:
        return f"{self.prefix}-node-{i}"

    @staticmethod
    def node_ip(i: int) -> str:
        return f"10.224.0.{3 + i}"

    def __enter__(self) -> MiniCloud:
        try:
            self.create()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _netns(self, name: str) -> None:
        subprocess.run(["ip", "netns", "add", name], check=True, capture_output=True)
        self.created.append(name)
        ip("link", "set", "lo", "up", netns=name)

    def create(self) -> None:
        for name in (self.host, self.cloud):
            self._netns(name)
        ip("link", "add", "edge", "type", "veth", "peer", "name", "edge0", "netns", self.cloud,
           netns=self.host)
        ip("addr", "add", f"{EDGE_HOST}/30", "dev", "edge", netns=self.host)
        ip("link", "set", "edge", "up", netns=self.host)
        for dst in (PUBLIC_POOL, NODE_SUBNET):
            ip("route", "add", dst, "via", EDGE_CLOUD, netns=self.host)
        ip("addr", "add", f"{EDGE_CLOUD}/30", "dev", "edge0", netns=self.cloud)
        ip("link", "set", "edge0", "up", netns=self.cloud)
        ip("link", "add", "vnet0", "type", "bridge", netns=self.cloud)
        ip("addr", "add", f"{VNET_ROUTER}/16", "dev", "vnet0", netns=self.cloud)
        ip("link", "set", "vnet0", "up", netns=self.cloud)
        subprocess.run(["ip", "netns", "exec", self.cloud, "sysctl", "-q", "-w",
                        "net.ipv4.ip_forward=1"], check=True, capture_output=True)
        for i in range(1, self.nodes + 1):
            self._add_node(i)

    def _add_node(self, i: int) -> None:
        ns = self.node(i)
        self._netns(ns)
        peer = f"vn-node-{i}"
        ip("link", "add", peer, "type", "veth", "peer", "name", "eth0", "netns", ns,
           netns=self.cloud)
        ip("link", "set", peer, "master", "vnet0", "up", netns=self.cloud)
        ip("addr", "add", f"{self.node_ip(i)}/16", "dev", "eth0", netns=ns)
        ip("link", "set", "eth0", "up", netns=ns)
        ip("route", "add", "default", "via", VNET_ROUTER, netns=ns)
        for local in (PUBLIC_POOL, LOCAL_INTERNAL):
            ip("route", "add", "local", local, "dev", "lo", netns=ns)

    def serve(self, i: int, *ports: int) -> subprocess.Popen[str]:
        """An HTTP server on node i answering `node-i <client ip>` on each port."""
        proc = subprocess.Popen(
            ["ip", "netns", "exec", self.node(i), sys.executable, "-c", SERVER, f"node-{i}",
             *map(str, ports)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            start_new_session=True)
        self.processes.append(proc)
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            raise RuntimeError(f"server on node-{i} failed: {proc.stderr.read() if proc.stderr else ''}")  # noqa: E501
        return proc

    def stop(self, proc: subprocess.Popen[str]) -> None:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        with contextlib.suppress(ValueError):
            self.processes.remove(proc)

    def close(self) -> None:
        for proc in list(self.processes):
            self.stop(proc)
        for name in reversed(self.created):
            subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)
        self.created.clear()
