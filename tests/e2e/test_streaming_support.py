"""Shared helpers (no tests) for the streaming end-to-end tests: a node cluster and a pty.

`streaming_cluster()` starts `portico up --nodes 1` in a sandbox with, in one
namespace: pod `p1` (busybox, `sleep`), Deployment `web` (2 agnhost netexec replicas
on :8080, a second port :8081) and Service `web` (80 -> 8080, 81 -> 8081).
`run_in_pty()` runs kubectl with a pseudo-terminal of a given size as its stdin,
stdout and stderr (as a user's terminal would be), feeding keystrokes and
collecting everything it prints.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import select
import struct
import termios
import time
from collections.abc import Iterator

import yaml

from portico.testing.sandbox import Cluster, end_process, wait_for

NAMESPACE = "streams"
AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.53"


def _manifests() -> str:
    labels = {"app": "web"}
    web = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
           "spec": {"replicas": 2, "selector": {"matchLabels": labels},
                    "template": {"metadata": {"labels": labels}, "spec": {"containers": [
                        {"name": "web", "image": AGNHOST,
                         "args": ["netexec", "--http-port=8080", "--udp-port=-1"]},
                        {"name": "web2", "image": AGNHOST,
                         "args": ["netexec", "--http-port=8081", "--udp-port=-1"]}]}}}}
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
           "spec": {"selector": labels, "ports": [
               {"name": "http", "port": 80, "targetPort": 8080},
               {"name": "alt", "port": 81, "targetPort": 8081}]}}
    p1 = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p1"},
          "spec": {"containers": [{"name": "c1", "image": "busybox",
                                   "command": ["sleep", "3600"],
                                   "env": [{"name": "GREETING", "value": "hello"}]}]}}
    return yaml.safe_dump_all([web, svc, p1])


@contextlib.contextmanager
def streaming_cluster() -> Iterator[Cluster]:
    with Cluster(nodes=1) as cluster:
        cluster.kubectl("create", "namespace", NAMESPACE, check=True)
        cluster.kubectl("-n", NAMESPACE, "apply", "-f", "-", input=_manifests(), check=True)
        cluster.kubectl("-n", NAMESPACE, "wait", "--for=condition=Ready", "pod", "--all",
                        "--timeout=60s", check=True, timeout=90)
        yield cluster


def kubectl_env(cluster: Cluster, *args: str, version: str, env: dict[str, str],
                input: str | None = None, timeout: float = 60.0) -> tuple[int, str, str]:
    """kubectl with extra environment variables (e.g. the protocol switches)."""
    result = cluster.sandbox.run(cluster.kubectl_argv(["-n", NAMESPACE, *args], version),
                                 input=input, env={**cluster.kube_env(), **env},
                                 timeout=timeout)
    return result.returncode, result.stdout, result.stderr


def run_in_pty(cluster: Cluster, args: list[str], version: str, rows: int = 30,
               cols: int = 100, keys: bytes = b"", timeout: float = 60.0,
               env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run kubectl on a terminal of rows x cols; return (exit code, what it printed)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    proc = cluster.sandbox.popen(cluster.kubectl_argv(["-n", NAMESPACE, *args], version),
                                 env={**cluster.kube_env(), **(env or {})}, stdin=slave,
                                 stdout=slave,
                                 stderr=slave)
    os.close(slave)
    output = bytearray()
    deadline = time.monotonic() + timeout
    try:
        if keys:
            os.write(master, keys)
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: no process holds the terminal any more
                    break
                if not chunk:
                    break
                output += chunk
            elif proc.poll() is not None:
                break
        wait_for(lambda: proc.poll() is not None, max(deadline - time.monotonic(), 1.0),
                 message="kubectl to exit")
    finally:
        end_process(proc, grace=2.0)
        os.close(master)
    return proc.returncode, output.decode(errors="replace")
