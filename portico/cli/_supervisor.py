"""`portico up`: one supervisor runs the whole cluster (like k3s), each part over HTTPS.

Start order: the cloud (netns, VNet, edge, node netns) -> API server (loopback and
edge) -> controllers -> load balancer process in the cloud netns -> one agent
process per node in its netns -> addons. Stop order is the reverse, and the
cloud's namespaces, links and tables are removed at the end, so a clean stop
leaves nothing behind (`portico down` does the same after a crash).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import datetime
import json
import logging
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from portico.agent import AgentConfig
from portico.apiserver.certs import Pki, issue_client_cert, issue_serving_cert, load_pki
from portico.apiserver.resources.services import ServiceConfig, dns_service_ip
from portico.apiserver.server import ApiServer, ApiServerConfig, write_kubeconfig
from portico.cloud import NodePlan, Topology, TopologyConfig, create, destroy, plan
from portico.controllers import ControllerManager

log = logging.getLogger("portico.supervisor")

_PR_SET_PDEATHSIG = 1
EDGE_HOST_IP = "10.223.0.1"


@dataclass(frozen=True)
class ClusterConfig:
    name: str
    data_dir: Path
    api_port: int
    bind_address: str
    nodes: int
    services: ServiceConfig
    history_revisions: int
    compaction_interval: float
    lb_pool: str = "198.51.100.0/24"


def _die_with_parent() -> None:
    """In the child: get SIGTERM when the supervisor dies, even by SIGKILL."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    os.setpgrp()


def _in_netns(netns: str) -> list[str]:
    """Enter only the network namespace: unlike `ip netns exec`, keep the machine's mounts,
    so namespaces the child creates (pod sandboxes) are visible to everyone."""
    return ["nsenter", f"--net=/run/netns/{netns}", "--"]


def _spawn(argv: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    out = open(log_path, "ab")  # noqa: SIM115 - owned by the child for its whole life
    return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                            preexec_fn=_die_with_parent)  # noqa: PLW1509


class Supervisor:
    def __init__(self, config: ClusterConfig) -> None:
        self.config = config
        self.api: ApiServer | None = None
        self.controllers: ControllerManager | None = None
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self.topology: Topology | None = None

    # the cloud

    def _networked(self) -> bool:
        return self.config.nodes > 0 and os.geteuid() == 0

    def _create_topology(self) -> None:
        c = self.config
        self.topology = plan(TopologyConfig(name=c.name, nodes=c.nodes,
                                            service_cidr=c.services.service_cidr))
        create(self.topology)

    async def start(self) -> None:
        c = self.config
        networked = self._networked()
        started = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
        (c.data_dir / "cluster.json").write_text(json.dumps(
            {"name": c.name, "nodes": c.nodes if networked else 0,
             "startedAt": started.strftime("%Y-%m-%dT%H:%M:%SZ")}))
        if networked:
            self._create_topology()
        self.api = ApiServer(ApiServerConfig(
            name=c.name, data_dir=c.data_dir, port=c.api_port, bind_address=c.bind_address,
            services=c.services, history_revisions=c.history_revisions,
            compaction_interval=c.compaction_interval,
            extra_bind_addresses=(EDGE_HOST_IP,) if networked else (),
        ))
        await self.api.start()
        if networked:
            # agents and the load balancer are separate processes: start them first so their
            # start-up overlaps the controllers'
            self._start_cloud_lb()
            assert self.topology is not None
            for node in self.topology.nodes:
                self._start_agent(node)
        self.controllers = ControllerManager(self.api.kubeconfig)
        await self.controllers.start()
        await self._install_addons()

    def _component_kubeconfig(self, name: str, common_name: str, organization: str,
                              directory: Path) -> Path:
        pki = load_pki(self.config.data_dir / "pki")
        cert, key = directory / "client.crt", directory / "client.key"
        issue_client_cert(pki, cert, key, common_name, organization)
        path = directory / "kubeconfig"
        write_kubeconfig(path, self.config.name, f"https://{EDGE_HOST_IP}:{self.config.api_port}",
                         Pki(pki.ca_cert, pki.ca_key, pki.serving_cert, pki.serving_key, cert,
                             key))
        return path

    def _start_agent(self, node: NodePlan) -> None:
        c = self.config
        name = node.name
        directory = c.data_dir / "nodes" / name
        directory.mkdir(parents=True, exist_ok=True)
        kubeconfig = self._component_kubeconfig(name, f"system:node:{name}", "system:nodes",
                                                directory)
        pki = load_pki(c.data_dir / "pki")
        serving_cert, serving_key = directory / "kubelet.crt", directory / "kubelet.key"
        issue_serving_cert(pki, serving_cert, serving_key, name, [str(node.ip), name])
        zones = ("eastus-1", "eastus-2", "eastus-3")
        config = AgentConfig(
            cluster_name=c.name, node_name=name, node_ip=str(node.ip),
            pod_cidr=str(node.pod_cidr), bridge_ip=str(node.bridge_ip),
            zone=zones[(node.index - 1) % 3],
            kubeconfig=str(kubeconfig), data_dir=str(directory),
            cluster_dns=dns_service_ip(c.services), cluster_domain="cluster.local",
            serving_cert=str(serving_cert), serving_key=str(serving_key),
            client_ca=str(pki.ca_cert),
            serviceaccount_token=str(c.data_dir / "pki" / "serviceaccount.token"),
        )
        config_path = directory / "agent.json"
        config.to_file(config_path)
        argv = [*_in_netns(node.netns), sys.executable, "-m", "portico",
                "agent", "--config", str(config_path)]
        self.children[name] = _spawn(argv, directory / "agent.log")

    def _start_cloud_lb(self) -> None:
        c = self.config
        directory = c.data_dir / "cloud"
        directory.mkdir(parents=True, exist_ok=True)
        kubeconfig = self._component_kubeconfig("cloud", "system:cloud-controller-manager",
                                                "", directory)
        assert self.topology is not None
        argv = [*_in_netns(self.topology.cloud_netns),
                sys.executable, "-m", "portico.cloud.lb", "--kubeconfig", str(kubeconfig),
                "--cluster-name", c.name, "--public-pool", c.lb_pool]
        self.children["cloud-lb"] = _spawn(argv, directory / "lb.log")

    async def _install_addons(self) -> None:
        """Once the nodes are Ready (so the scheduler spreads the addons' replicas)."""
        from portico.cli._addons import install

        assert self.api is not None
        if self._networked():
            await self._wait_nodes_ready(timeout=20.0)
        await install(self.api.kubeconfig, networked=self._networked())

    async def _wait_nodes_ready(self, timeout: float) -> None:
        from portico.apiserver.registry import ListOptions

        assert self.api is not None
        nodes = self.api.registry.find("", "v1", "nodes")
        assert nodes is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            listed = self.api.registry.list(nodes, None, ListOptions()).items
            ready = [n for n in listed if any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in n.get("status", {}).get("conditions", []) or [])]
            if len(ready) >= self.config.nodes:
                return
            await asyncio.sleep(0.1)
        log.warning("not every node is Ready after %.0fs; installing addons anyway", timeout)

    async def stop(self) -> None:
        for name, child in self.children.items():
            if child.poll() is None:
                log.info("stopping %s (pid %d)", name, child.pid)
                child.terminate()
        for child in self.children.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                await asyncio.to_thread(child.wait, 30)
            if child.poll() is None:
                child.kill()
                child.wait()
        if self.controllers is not None:
            await self.controllers.stop()
        if self.api is not None:
            await self.api.stop()
        if self.topology is not None:
            destroy(self.config.name)
