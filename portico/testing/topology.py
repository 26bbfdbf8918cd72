"""The real cluster topology (`portico.cloud`), built inside a sandbox that stands for the host.

`SandboxTopology(nodes)` plans a uniquely named topology and creates a `Sandbox`
netns for "the host" (the caller's netns in production). `create()` runs
`portico.cloud.create` in a Python process inside the sandbox, so the edge veth
and its routes land there, entered with `nsenter --net=` so that the netns it
mounts are visible to this process too (`ip netns exec` would give it a private
mount namespace, whose netns mounts vanish with it). `destroy()` runs
`portico.cloud.destroy` there as well and returns what it removed.

`close()` (also on leaving the `with` block, failure or not) deletes whatever
netns of the cluster is still left and then the sandbox, which takes the edge
veth and its routes with it: nothing outlives the test.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

from portico.cloud import Topology, TopologyConfig, owned_netns, plan
from portico.testing.sandbox import Sandbox

ROOT = str(Path(__file__).resolve().parents[2])
COMMAND_TIMEOUT = 60.0

CREATE = """
import sys, time
from portico.cloud import TopologyConfig, create, plan
topology = plan(TopologyConfig(sys.argv[1], int(sys.argv[2])))
start = time.perf_counter()
create(topology)
print(f"{time.perf_counter() - start:.4f}")
"""

DESTROY = """
import json, sys
from portico.cloud import destroy
print(json.dumps(destroy(sys.argv[1])))
"""


class SandboxTopology:
    """A planned topology and the sandbox netns it is built from (see the module)."""

    def __init__(self, nodes: int, name: str | None = None) -> None:
        self.topology: Topology = plan(TopologyConfig(name or f"tp{secrets.token_hex(3)}", nodes))
        self.sandbox = Sandbox()

    @property
    def name(self) -> str:
        return self.topology.config.name

    def __enter__(self) -> SandboxTopology:
        self.sandbox.create()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def python(self, code: str, *args: str) -> str:
        """Run a snippet with the sandbox as its netns (and our mount namespace)."""
        argv = ["nsenter", f"--net=/run/netns/{self.sandbox.name}", sys.executable, "-c", code,
                *args]
        return subprocess.run(argv, env={**os.environ, "PYTHONPATH": ROOT}, capture_output=True,
                              text=True, check=True, timeout=COMMAND_TIMEOUT).stdout

    def create(self) -> float:
        """Run `portico.cloud.create` inside the sandbox; return the seconds it took."""
        config = self.topology.config
        return float(self.python(CREATE, config.name, str(config.nodes)))

    def destroy(self) -> list[str]:
        """Run `portico.cloud.destroy` inside the sandbox; return what it removed."""
        return list(json.loads(self.python(DESTROY, self.name)))

    def close(self) -> None:
        """Delete the cluster's netns still left, then the sandbox (with the edge veth)."""
        try:
            for ns in owned_netns(self.name):
                subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
        finally:
            self.sandbox.close()
