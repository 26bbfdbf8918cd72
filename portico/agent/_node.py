"""The Node object and its heartbeats, as kubelet's node status manager.

`render_node` (pure) is the Node this agent registers: AKS labels, podCIDR(s),
addresses, capacity/allocatable, the four conditions and nodeInfo.  At start
the agent creates the Node with its status (Ready at once, as kubelet's
registration) or, if it exists, merge-patches its labels and spec and its
`nodes/status`.  Afterwards two loops run: the Lease
`kube-node-lease/<node>` renewed every `lease_renew_seconds` (the cheap
heartbeat), and the Ready heartbeat (conditions' `lastHeartbeatTime`) patched
every `node_status_update_seconds` (kubelet's nodeStatusReportFrequency).
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import os
import platform
from pathlib import Path
from typing import Any

from portico.agent._config import AgentConfig
from portico.client import Api, ApiError
from portico.model.kinds import LEASE, NODE

log = logging.getLogger("portico.agent.node")
Object = dict[str, Any]
KUBELET_VERSION = "v1.33.0+portico"
RUNTIME_VERSION = "portico://0.1"
LEASE_NAMESPACE = "kube-node-lease"
CAPACITY = {"cpu": "2", "memory": "8141504Ki", "pods": "110",
            "ephemeral-storage": "129886128Ki", "hugepages-1Gi": "0", "hugepages-2Mi": "0"}
ALLOCATABLE = {"cpu": "1900m", "memory": "5816768Ki", "pods": "110",
               "ephemeral-storage": "119703055367", "hugepages-1Gi": "0", "hugepages-2Mi": "0"}


def now_rfc3339() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_micro() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def os_image(os_release: Path = Path("/etc/os-release")) -> str:
    try:
        for line in os_release.read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "Linux"


def node_labels(config: AgentConfig) -> dict[str, str]:
    return {
        "kubernetes.io/hostname": config.node_name, "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux",
        "beta.kubernetes.io/arch": "amd64",
        "node.kubernetes.io/instance-type": "Standard_D2s_v3",
        "topology.kubernetes.io/region": config.region,
        "topology.kubernetes.io/zone": config.zone,
        "kubernetes.azure.com/agentpool": "nodepool1", "kubernetes.azure.com/role": "agent",
        "agentpool": "nodepool1",
    }


def node_conditions(now: str, since: str) -> list[Object]:
    def cond(ctype: str, status: str, reason: str, message: str) -> Object:
        return {"type": ctype, "status": status, "reason": reason, "message": message,
                "lastHeartbeatTime": now, "lastTransitionTime": since}
    return [
        cond("MemoryPressure", "False", "KubeletHasSufficientMemory",
             "kubelet has sufficient memory available"),
        cond("DiskPressure", "False", "KubeletHasNoDiskPressure",
             "kubelet has no disk pressure"),
        cond("PIDPressure", "False", "KubeletHasSufficientPID",
             "kubelet has sufficient PID available"),
        cond("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
    ]


def node_status(config: AgentConfig, now: str, since: str, image: str, kernel: str) -> Object:
    return {
        "addresses": [{"type": "InternalIP", "address": config.node_ip},
                      {"type": "Hostname", "address": config.node_name}],
        "capacity": dict(CAPACITY), "allocatable": dict(ALLOCATABLE),
        "conditions": node_conditions(now, since),
        "daemonEndpoints": {"kubeletEndpoint": {"Port": config.kubelet_port}},
        "nodeInfo": {
            "machineID": "", "systemUUID": "", "bootID": "",
            "kernelVersion": kernel, "osImage": image,
            "containerRuntimeVersion": RUNTIME_VERSION, "kubeletVersion": KUBELET_VERSION,
            "kubeProxyVersion": KUBELET_VERSION, "operatingSystem": "linux",
            "architecture": "amd64"},
    }


def render_node(config: AgentConfig, now: str, since: str, image: str, kernel: str) -> Object:
    """The whole Node object (pure)."""
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": config.node_name, "labels": node_labels(config),
                     "annotations": {"node.alpha.kubernetes.io/ttl": "0"}},
        "spec": {"podCIDR": config.pod_cidr, "podCIDRs": [config.pod_cidr],
                 "providerID": f"portico://{config.cluster_name}/{config.node_name}"},
        "status": node_status(config, now, since, image, kernel),
    }


def render_lease(config: AgentConfig, now: str) -> Object:
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": config.node_name, "namespace": LEASE_NAMESPACE},
            "spec": {"holderIdentity": config.node_name,
                     "leaseDurationSeconds": config.lease_duration_seconds,
                     "renewTime": now}}


class NodeHeartbeat:
    def __init__(self, config: AgentConfig, client: Api) -> None:
        self.config = config
        self.client = client
        self.since = now_rfc3339()
        self.image = os_image()
        self.kernel = platform.release() or os.uname().release
        self._tasks: list[asyncio.Task[None]] = []

    async def register(self) -> None:
        node = render_node(self.config, now_rfc3339(), self.since, self.image, self.kernel)
        name = self.config.node_name
        try:
            await self.client.create(NODE, node)  # with its status, as kubelet
            return
        except ApiError as error:
            if error.code != 409:
                raise
        await asyncio.gather(  # re-registration: both at once (merge patches)
            self.client.patch(NODE, name, {"metadata": node["metadata"], "spec": node["spec"]}),
            self.client.patch(NODE.status, name, {"status": node["status"]}))

    async def renew_lease(self) -> None:
        lease = render_lease(self.config, now_micro())
        try:
            await self.client.patch(LEASE, self.config.node_name, {"spec": lease["spec"]},
                                    namespace=LEASE_NAMESPACE)  # a merge patch
        except ApiError as error:
            if error.code != 404:
                raise
            await self.client.create(LEASE, lease)

    async def post_status(self) -> None:
        status = {"conditions": node_conditions(now_rfc3339(), self.since)}
        await self.client.patch(NODE.status, self.config.node_name, {"status": status})

    async def _every(self, seconds: float, action: str) -> None:
        while True:
            try:
                await getattr(self, action)()
            except Exception as error:  # keep beating; the API may be restarting
                log.warning("node %s: %s failed: %r", self.config.node_name, action, error)
            await asyncio.sleep(seconds)

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._every(self.config.lease_renew_seconds, "renew_lease")),
            asyncio.create_task(self._every(self.config.node_status_update_seconds,
                                            "post_status")),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
