"""The cloud load balancer's test bed: the real topology, with HTTP servers for nodes.

Theory of operation. The machine side is the real one: `SandboxTopology` builds
`portico.cloud`'s topology (cloud netns with the edge link and the VNet bridge,
node netns on it) from a sandbox netns that stands for the host, which routes
the public pool and the node subnet into the cloud. What a node agent would add
for a LoadBalancer Service is stood in for: each node treats the whole public
pool and the top /24 of the node subnet (where internal frontends come from) as
local addresses (`ip route add local ...`), as the node's "floating IP" Service
rules would, so a server listening on 0.0.0.0 answers for any frontend address;
`serve(i, ports)` starts such a server on node i, answering `node-i <client ip>`.

`close()` (also on leaving the `with` block) ends our servers by PID, then
removes the topology and the sandbox: nothing outlives the test.
"""

from __future__ import annotations

import contextlib
import secrets
import subprocess
import sys
from ipaddress import IPv4Network

from portico.testing.sandbox import end_process
from portico.testing.topology import SandboxTopology

SERVER_GRACE_SECONDS = 5.0
LOCAL_ROUTES_TIMEOUT = 30.0
INTERNAL_FRONTEND_PREFIX = 24

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


class LbCloud:
    """A sandboxed real topology whose nodes answer for every frontend (see the module)."""

    def __init__(self, nodes: int = 2) -> None:
        self.machine = SandboxTopology(nodes, name=f"lbt{secrets.token_hex(3)}")
        self.processes: list[subprocess.Popen[str]] = []

    @property
    def host(self) -> str:
        """The netns clients send from (the topology's host side)."""
        return self.machine.sandbox.name

    @property
    def cloud(self) -> str:
        return self.machine.topology.cloud_netns

    def node(self, i: int) -> str:
        """The netns of node i (1-based)."""
        return self.machine.topology.nodes[i - 1].netns

    def node_ip(self, i: int) -> str:
        return str(self.machine.topology.nodes[i - 1].ip)

    def local_ranges(self) -> tuple[IPv4Network, ...]:
        """The public pools and the node subnet's top /24 (internal frontends)."""
        config = self.machine.topology.config
        top = config.node_subnet.broadcast_address + 1 - 2 ** (32 - INTERNAL_FRONTEND_PREFIX)
        return (*config.lb_pools, IPv4Network(f"{top}/{INTERNAL_FRONTEND_PREFIX}"))

    def __enter__(self) -> LbCloud:
        self.machine.__enter__()
        try:
            self.machine.create()
            self._answer_for_frontends()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _answer_for_frontends(self) -> None:
        lines = "".join(f"route add local {r} dev lo\n" for r in self.local_ranges())
        for node in self.machine.topology.nodes:
            subprocess.run(["ip", "-n", node.netns, "-batch", "-"], input=lines, text=True,
                           capture_output=True, check=True, timeout=LOCAL_ROUTES_TIMEOUT)

    def serve(self, i: int, *ports: int) -> subprocess.Popen[str]:
        """An HTTP server on node i answering `node-i <client ip>` on each port."""
        proc = subprocess.Popen(
            ["ip", "netns", "exec", self.node(i), sys.executable, "-c", SERVER, f"node-{i}",
             *map(str, ports)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            start_new_session=True)
        self.processes.append(proc)
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            stderr = proc.stderr.read() if proc.stderr else ""
            raise RuntimeError(f"server on node-{i} failed: {stderr}")
        return proc

    def stop(self, proc: subprocess.Popen[str]) -> None:
        """End one of our servers (SIGTERM, then SIGKILL), by its PID."""
        end_process(proc, grace=SERVER_GRACE_SECONDS)
        with contextlib.suppress(ValueError):
            self.processes.remove(proc)

    def close(self) -> None:
        try:
            for proc in list(self.processes):
                self.stop(proc)
        finally:
            self.machine.close()
