"""`portico up`: one supervisor runs the whole cluster (like k3s), each part over HTTPS.

Start order: before the event loop (`prepare`), the cloud (netns, VNet, edge, node
netns), the certificates, then the components forked from this process (see
`_children`): the controller manager, the load balancer in the cloud netns and
one agent per node in its netns; they wait for the API server, which starts next
(`start`, in the event loop), then the addons once the nodes are Ready, then in
the background the Gateway API CRDs (`_gatewayapi`).  Stop
order is the reverse, and the cloud's namespaces, links and tables are removed at
the end, so a clean stop leaves nothing behind (`portico down` does the same after
a crash).  While the cluster runs, a component that dies is restarted (`_watchdog`).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from portico.agent import AgentConfig
from portico.apiserver.certs import (
    Pki,
    ensure_pki,
    issue_client_cert,
    issue_serving_cert,
    load_pki,
)
from portico.apiserver.resources.services import ServiceConfig, dns_service_ip
from portico.apiserver.server import ApiServer, ApiServerConfig, api_hosts, write_kubeconfig
from portico.cli._children import Component
from portico.cli._progress import Progress, count
from portico.cli._watchdog import Children
from portico.cloud import NodePlan, Topology, TopologyConfig, create, destroy, plan
from portico.images import default_path
from portico.model import core
from portico.netns import end_processes_in
from portico.oci import ImageGcPolicy
from portico.oci import _registries as registries

log = logging.getLogger("portico.supervisor")

EDGE_HOST_IP = "10.223.0.1"
# What the forked components run: imported once here, before forking.
COMPONENT_MODULES = ("portico.agent._agent", "portico.agent._main", "portico.proxy",
                     "portico.cloud.lb.__main__", "portico.controllers")
CHILD_STOP_SECONDS = 30.0
# Seconds between rewrites of running pods' configMap/secret/downwardAPI/projected volumes.
VOLUME_SYNC_ENV = "PORTICO_VOLUME_SYNC_SECONDS"
DEFAULT_VOLUME_SYNC = "10"
# Seconds between the agents' PodMetrics/NodeMetrics (metrics-server's resolution).
METRICS_ENV = "PORTICO_METRICS_SECONDS"
DEFAULT_METRICS = "15"
# Seconds between the agents' image garbage collection checks (kubelet's ImageGCPeriod).
IMAGE_GC_PERIOD_ENV = "PORTICO_IMAGE_GC_PERIOD_SECONDS"
DEFAULT_IMAGE_GC_PERIOD = "300"


def images_file() -> Path:
    """The image mappings file of `portico up`'s environment: `$PORTICO_IMAGES`, else
    the default path; the agents re-read it when it changes (it need not exist yet)."""
    return default_path()[0].absolute()


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
    node_monitor_grace_period: float = 40.0
    pull_builtin_images: bool = False  # pull the catalog's images (nginx, busybox...) for real
    gateway_api_crds: Path | None = None  # the bundle's file (else env, cache, download)
    image_gc: ImageGcPolicy = ImageGcPolicy()  # kubelet's image garbage collection


class Supervisor:
    def __init__(self, config: ClusterConfig, progress: Progress | None = None) -> None:
        self.config = config
        self.progress = progress or Progress(write=None)
        self.api: ApiServer | None = None
        self.children = Children(config.data_dir)
        self.topology: Topology | None = None
        self.gateway_api: asyncio.Task[None] | None = None

    def _networked(self) -> bool:
        return self.config.nodes > 0 and os.geteuid() == 0

    def _api_config(self) -> ApiServerConfig:
        c = self.config
        return ApiServerConfig(
            name=c.name, data_dir=c.data_dir, port=c.api_port, bind_address=c.bind_address,
            services=c.services, history_revisions=c.history_revisions,
            compaction_interval=c.compaction_interval,
            extra_bind_addresses=(EDGE_HOST_IP,) if self._networked() else (),
        )

    def prepare(self) -> None:
        """Before the event loop: the cloud, the certificates, the forked components."""
        c = self.config
        networked = self._networked()
        (c.data_dir / "cluster.json").write_text(json.dumps(
            {"name": c.name, "nodes": c.nodes if networked else 0}))
        if networked:
            self.topology = plan(TopologyConfig(name=c.name, nodes=c.nodes,
                                                service_cidr=c.services.service_cidr))
            create(self.topology)
            self.progress.step("network ready: cloud namespace, VNet, "
                               f"{count(c.nodes, 'node namespace')}")
        ensure_pki(c.data_dir / "pki", api_hosts(self._api_config()))
        for module in COMPONENT_MODULES:
            importlib.import_module(module)
        self._fork_controller_manager()
        if self.topology is not None:
            self._fork_cloud_lb()
            for node in self.topology.nodes:
                self._fork_agent(node)
            mappings = images_file()
            self.progress.step(f"image mappings: {mappings}"
                               + ("" if mappings.exists() else " (no such file yet)"))
        self.progress.step("started " + ", ".join(self.children.running))

    async def start(self) -> None:
        self.api = ApiServer(self._api_config())
        await self.api.start()
        self.progress.step(f"API server ready on {self.config.bind_address}:"
                           f"{self.config.api_port}")
        self.children.start_watch()
        await self._install_addons()
        # after the addons: applying 1.4 MB of CRDs would delay theirs by ~1.5 s
        self.gateway_api = asyncio.create_task(self._install_gateway_api())

    def _component_kubeconfig(self, common_name: str, organization: str, directory: Path,
                              server_host: str = EDGE_HOST_IP) -> Path:
        pki = load_pki(self.config.data_dir / "pki")
        directory.mkdir(parents=True, exist_ok=True)
        cert, key = directory / "client.crt", directory / "client.key"
        issue_client_cert(pki, cert, key, common_name, organization)
        path = directory / "kubeconfig"
        write_kubeconfig(path, self.config.name, f"https://{server_host}:{self.config.api_port}",
                         Pki(pki.ca_cert, pki.ca_key, pki.serving_cert, pki.serving_key, cert,
                             key))
        return path

    def _fork(self, name: str, title: str, target: str, args: tuple[object, ...],
              directory: Path, log_name: str, netns: str | None = None) -> None:
        self.children.fork(Component(name=name, title=title, target=target, args=args,
                                     log_path=str(directory / log_name),
                                     lock_path=str(directory / "component.lock"),
                                     netns=netns))

    def _fork_controller_manager(self) -> None:
        c = self.config
        directory = c.data_dir / "controller-manager"
        host = c.bind_address if c.bind_address not in ("0.0.0.0", "::") else "127.0.0.1"
        kubeconfig = self._component_kubeconfig("system:kube-controller-manager", "",
                                                directory, f"[{host}]" if ":" in host else host)
        self._fork("controller-manager", f"portico controller-manager --kubeconfig {kubeconfig}",
                   "portico.controllers:run", (str(kubeconfig), c.node_monitor_grace_period,
                                               str(c.data_dir / "pki" / "sa.key")),
                   directory, "controller-manager.log")

    def _fork_agent(self, node: NodePlan) -> None:
        c = self.config
        name = node.name
        directory = c.data_dir / "nodes" / name
        kubeconfig = self._component_kubeconfig(f"system:node:{name}", "system:nodes",
                                                directory)
        pki = load_pki(c.data_dir / "pki")
        serving_cert, serving_key = directory / "kubelet.crt", directory / "kubelet.key"
        issue_serving_cert(pki, serving_cert, serving_key, name, [str(node.ip), name])
        zones = ("eastus-1", "eastus-2", "eastus-3")
        config = AgentConfig(
            cluster_name=c.name, node_name=name, node_ip=str(node.ip),
            pod_cidr=str(node.pod_cidr), bridge_ip=str(node.bridge_ip),
            zone=zones[(node.index - 1) % 3],
            kubeconfig=kubeconfig, data_dir=directory,
            cluster_dns=dns_service_ip(c.services), cluster_domain="cluster.local",
            serving_cert=serving_cert, serving_key=serving_key,
            client_ca=pki.ca_cert,
            images_file=images_file(),
            volume_sync_seconds=float(os.environ.get(VOLUME_SYNC_ENV) or DEFAULT_VOLUME_SYNC),
            metrics_seconds=float(os.environ.get(METRICS_ENV) or DEFAULT_METRICS),
            image_store=c.data_dir / "images", pull_netns=f"/proc/{os.getpid()}/ns/net",
            registries_file=registries.default_file().absolute(),
            pull_builtin_images=c.pull_builtin_images,
            image_gc_high_threshold_percent=c.image_gc.high_threshold_percent,
            image_gc_low_threshold_percent=c.image_gc.low_threshold_percent,
            image_minimum_gc_age_seconds=c.image_gc.minimum_age_seconds,
            image_gc_period_seconds=float(os.environ.get(IMAGE_GC_PERIOD_ENV)
                                          or DEFAULT_IMAGE_GC_PERIOD),
        )
        config_path = directory / "agent.json"
        config.to_file(config_path)
        self._fork(name, f"portico agent --config {config_path}", "portico.agent:main",
                   (str(config_path),), directory, "agent.log", node.netns)

    def _fork_cloud_lb(self) -> None:
        c = self.config
        directory = c.data_dir / "cloud"
        kubeconfig = self._component_kubeconfig("system:cloud-controller-manager", "",
                                                directory)
        assert self.topology is not None
        argv = ["--kubeconfig", str(kubeconfig), "--cluster-name", c.name,
                "--public-pool", c.lb_pool]
        self._fork("cloud-lb", " ".join(["portico cloud-lb", *argv]),
                   "portico.cloud.lb.__main__:main", (argv,), directory, "lb.log",
                   self.topology.cloud_netns)

    async def _install_addons(self) -> None:
        """Once the nodes are Ready (so the scheduler spreads the addons' replicas)."""
        from portico.cli._addons import install

        assert self.api is not None
        if self._networked():
            await self._wait_nodes_ready(timeout=20.0)
        await install(self.api.kubeconfig, networked=self._networked())
        if self._networked():
            self.progress.step("addons applied: cluster DNS (kube-system/coredns), ingress "
                               "(app-routing-system/nginx), default StorageClass (default), "
                               "Gateway API (aks-istio-system/istiod)")

    async def _install_gateway_api(self) -> None:
        """In the background: the nodes need not wait for the CRDs (`_gatewayapi`)."""
        from portico.cli._gatewayapi import install

        assert self.api is not None
        self.progress.step(await install(self.api.kubeconfig, self.config.data_dir,
                                         self.config.gateway_api_crds))

    async def _wait_nodes_ready(self, timeout: float) -> None:
        from portico.apiserver.registry import ListOptions

        assert self.api is not None
        nodes = self.api.registry.find("", "v1", "nodes")
        assert nodes is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        reported: set[str] = set()
        while loop.time() < deadline:
            listed = self.api.registry.list(nodes, None, ListOptions()).items
            ready = [n["metadata"]["name"] for n in listed if core.Node.from_obj(n).ready]
            for name in sorted(set(ready) - reported):
                self.progress.step(f"{name} Ready")
            reported.update(ready)
            if len(ready) >= self.config.nodes:
                return
            await asyncio.sleep(0.02)  # an in-process read: cheap
        log.warning("not every node is Ready after %.0fs; installing addons anyway", timeout)

    async def stop(self) -> None:
        if self.gateway_api is not None:
            self.gateway_api.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.gateway_api
        await self.children.stop(CHILD_STOP_SECONDS)
        if self.topology is not None:
            # a container launcher whose agent died before it could stop it
            for node in self.topology.nodes:
                if end_processes_in(node.netns):
                    log.warning("%s: ended processes left in its namespace", node.name)
        if self.api is not None:
            await self.api.stop()
        if self.topology is not None:
            destroy(self.config.name)
