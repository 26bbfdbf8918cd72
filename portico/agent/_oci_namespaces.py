"""The namespaces a pod's image containers share, as a pod sandbox holds them.

`pod_namespaces_for(runner)`: the pod's IPC and UTS (with its hostname) namespaces,
bind-mounted on files by `portico.oci`'s `pod_namespaces`, made once in a thread
for all the pod's containers (which await that one job without holding a thread
each) and joined in each container's config.json.  With `shareProcessNamespace`
there are none to make ahead: the first container to launch makes its own and the
others join that running peer's, PID too (`shared_namespaces`, under the pod's
`image_lock`).  `remove_image_namespaces` when the pod is gone.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from portico.agent._names import uid_hex
from portico.oci._container import namespaces_dir, pod_namespaces, remove_pod_namespaces

if TYPE_CHECKING:
    from portico.agent._config import AgentConfig
    from portico.agent._containers import ContainerRunner

_NAMESPACES: dict[str, asyncio.Future[dict[str, str]]] = {}  # by pod uid


def shares_pids(runner: ContainerRunner) -> bool:
    return bool((runner.pod.pod.get("spec") or {}).get("shareProcessNamespace"))


async def pod_namespaces_for(runner: ContainerRunner) -> dict[str, str] | None:
    """The pod's IPC and UTS namespaces (`pod_namespaces`), made once in a thread for all
    its containers, which wait for it without holding a thread; None with
    shareProcessNamespace (a running peer's are joined at launch)."""
    if shares_pids(runner):
        return None
    pod = runner.pod
    made = _NAMESPACES.get(pod.uid)
    if made is None or (made.done() and (made.cancelled() or made.exception() is not None)):
        made = _NAMESPACES[pod.uid] = asyncio.ensure_future(asyncio.to_thread(
            pod_namespaces, _namespaces_dir(pod.ctx.config, pod.uid), pod.place.hostname))
    return await asyncio.shield(made)


def shared_namespaces(runner: ContainerRunner) -> dict[str, str] | None:
    """With shareProcessNamespace, the namespaces of a running peer the container joins,
    PID too (a PID namespace lives as long as its first process); None: no peer runs,
    this container makes them (blocking)."""
    pod = runner.pod
    for peer in pod.init + pod.containers:
        pid = peer.oci.init_pid() if peer is not runner and peer.oci is not None else None
        if pid is not None:
            return {kind: f"/proc/{pid}/ns/{kind}" for kind in ("ipc", "uts", "pid")}
    return None


def _namespaces_dir(config: AgentConfig, pod_uid: str) -> Path:
    return namespaces_dir(config.cluster_name, config.node_name, uid_hex(pod_uid)[:12])


def remove_image_namespaces(config: AgentConfig, pod_uid: str) -> None:
    """The pod is gone: its namespace files too, if it had any (blocking)."""
    directory = _namespaces_dir(config, pod_uid)
    _NAMESPACES.pop(pod_uid, None)
    if directory.exists():
        remove_pod_namespaces(directory)
