"""`portico up`'s progress on stdout: what it starts, when each part is ready, how long.

Theory of operation: one line per step, `portico: <what> (<seconds since start>s)`,
flushed at once so `make run` shows it as it happens. The supervisor reports the
network, the forked components, the API server, each node as it turns Ready, the
Gateway API CRDs (applied in the background) and the addons applied;
`report_addons` then follows the addons' Deployments through the API server's
registry (in process, no request) until each has an available replica, and
`summary` ends with the kubeconfig's path and three commands to try.
Nothing here changes the cluster; a silent `Progress` (no `write`) is a no-op.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from portico.apiserver.errors import StatusError

if TYPE_CHECKING:  # `portico wait` imports this module: keep it light
    from portico.apiserver.registry import Registry

Write = Callable[[str], None]
# (namespace, Deployment, what it is) of each addon `portico up` installs with nodes
ADDON_DEPLOYMENTS = (("kube-system", "coredns", "cluster DNS"),
                     ("app-routing-system", "nginx", "ingress controller"))
ADDON_TIMEOUT_SECONDS = 120.0
_POLL_SECONDS = 0.05


def count(n: int, noun: str) -> str:
    """`1 node`, `3 nodes`."""
    return f"{n} {noun}" + ("" if n == 1 else "s")


def print_line(line: str) -> None:
    print(line, flush=True)


class Progress:
    """Progress lines with the seconds since start; `write=None` keeps quiet."""

    def __init__(self, write: Write | None = print_line,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.write = write
        self.clock = clock
        self.started = clock()

    def elapsed(self) -> float:
        return self.clock() - self.started

    def step(self, what: str) -> None:
        if self.write is not None:
            self.write(f"portico: {what} ({self.elapsed():.1f}s)")

    def summary(self, name: str, kubeconfig: Path, nodes: int) -> None:
        if self.write is None:
            return
        lines = [f"portico: cluster {name!r} is up in {self.elapsed():.1f}s; "
                 "Ctrl-C stops it and removes everything it created", "",
                 "Try, in another shell:", f"  export KUBECONFIG={kubeconfig}",
                 *(f"  {command}" for command in try_commands(nodes)), ""]
        self.write("\n".join(lines))


def try_commands(nodes: int) -> Sequence[str]:
    """Three first commands: with nodes, a web server behind a load balancer."""
    if nodes == 0:
        return ("kubectl get namespaces", "kubectl create configmap hello --from-literal=a=1",
                "kubectl get configmap hello -o yaml")
    return ("kubectl get nodes -o wide",
            "kubectl create deployment web --image=nginx --replicas=2",
            "kubectl expose deployment web --port=80 --type=LoadBalancer && kubectl get svc web")


def _available(registry: Registry, namespace: str, name: str) -> bool:
    deployments = registry.find("apps", "v1", "deployments")
    assert deployments is not None
    try:
        deployment = registry.get(deployments, namespace, name)
    except StatusError:
        return False
    return bool((deployment.get("status") or {}).get("availableReplicas"))


async def report_addons(registry: Registry, progress: Progress,
                        timeout: float = ADDON_TIMEOUT_SECONDS) -> None:
    """One line per addon as its Deployment gets an available replica (or times out)."""
    waiting = list(ADDON_DEPLOYMENTS)
    deadline = progress.clock() + timeout
    while waiting and progress.clock() < deadline:
        for addon in [a for a in waiting if _available(registry, a[0], a[1])]:
            waiting.remove(addon)
            progress.step(f"{addon[2]} available ({addon[0]}/{addon[1]})")
        await asyncio.sleep(_POLL_SECONDS)
    for namespace, name, what in waiting:
        progress.step(f"{what} not available yet: kubectl -n {namespace} describe "
                      f"deployment {name}")
