"""The node agent (kubelet part): wires the node heartbeat, the pod workers and the server.

Start-up order, as kubelet: `cbr0` in the node netns; the Node registered and
its heartbeats started; the Service informer synced (containers' Service
environment variables come from it, as from kubelet's service lister); the
informer of the node's pods (`fieldSelector spec.nodeName=<node>`) synced, so that
IPAM learns every live pod's `status.podIP` before anything is allocated, and local
pod directories whose pod no longer exists are torn down (sandbox, address, files),
as are the containers adopted from a previous agent's launcher whose pod is gone;
then a handler on that informer starts one `PodWorker` per pod (which adopts its
running containers) and feeds the workers (`update`, or `GONE` on deletion); the
:10250 server; and the Service proxy when `portico.proxy` provides `Proxier`, then
the NetworkPolicy agent (`portico.netpol`), both on the agent's shared
`InformerFactory`; and, with an image store, kubelet's image garbage collection
(`_image_gc`).  `stop()` is a node shutdown: the pod informer stops first (no
worker starts any more), then every pod's processes are killed and its sandbox
removed; pod objects and addresses are kept, so a restarted agent brings every pod
back with the same IP (restartCount + 1).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import shutil
import time
from typing import Any

from aiohttp import web

from portico.agent._backoff import CrashLoopBackoff
from portico.agent._config import AgentConfig
from portico.agent._image_gc import ImageGarbageCollector
from portico.agent._ipam import IpamStore
from portico.agent._metrics import MetricsReporter
from portico.agent._names import container_log, pod_netns, pod_veth
from portico.agent._object_cache import ObjectCache
from portico.agent._oci import ImageRuntime
from portico.agent._pod import TERMINAL, AgentContext, PodWorker, StopMode
from portico.agent._sandbox import IpRunner, ensure_bridge, parent_mount_namespace, remove_sandbox
from portico.agent._server import LogLookupError, LogTarget, build_app, serve
from portico.agent._spawner import Spawner
from portico.agent._streaming import streaming_routes
from portico.agent._tokens import TokenManager
from portico.client import Api, EventRecorder, Informer, InformerFactory, Obj, wait_for_api
from portico.images import Mappings, MappingsFile, MappingSource
from portico.model.kinds import POD, SERVICE
from portico.oci._container import remove_node_containers

log = logging.getLogger("portico.agent")
TOKEN_CHECK_INTERVAL = 60.0


class Agent:
    def __init__(self, config: AgentConfig, api: Api | None = None,
                 extra_routes: list[web.RouteDef] | None = None,
                 spawner: Spawner | None = None) -> None:
        self.config = config
        self.spawner = spawner or Spawner()
        self.client = api or Api.connect(config.kubeconfig, "kubelet")
        self.informers = InformerFactory(self.client)
        self.workers: dict[str, PodWorker] = {}
        self.extra_routes = extra_routes or []
        self._pods: Informer | None = None
        self._token_refresh: asyncio.Task[None] | None = None
        self._runner: web.AppRunner | None = None
        self._proxier: Any = None
        self._policy_agent: Any = None
        self._heartbeat: Any = None
        self._metrics: MetricsReporter | None = None
        self._image_gc: ImageGarbageCollector | None = None
        self.ctx: AgentContext | None = None

    def _context(self) -> AgentContext:
        cfg = self.config
        mappings: MappingSource = (MappingsFile(cfg.images_file) if cfg.images_file
                                   else Mappings())
        return AgentContext(
            config=cfg, client=self.client, ip=IpRunner(parent_mount_namespace()),
            ipam=IpamStore(cfg.data_dir / "ipam.json", cfg.pod_cidr, cfg.bridge_ip),
            mappings=mappings, backoff=CrashLoopBackoff(), clock=time.monotonic,
            spawner=self.spawner, services=self.informers.informer(SERVICE),
            events=EventRecorder(self.client, "kubelet", host=cfg.node_name),
            images=ImageRuntime(cfg), tokens=TokenManager(self.client),
            objects=ObjectCache(self.client))

    async def start(self) -> None:
        from portico.agent._node import NodeHeartbeat

        cfg = self.config
        cfg.data_dir.mkdir(parents=True, exist_ok=True)
        self.ctx = self._context()
        await self.ctx.spawner.start()  # its start-up overlaps the node's registration
        await ensure_bridge(self.ctx.ip, cfg.bridge_ip, cfg.pod_cidr)
        await wait_for_api(self.client)
        self._heartbeat = NodeHeartbeat(cfg, self.client)
        await self._heartbeat.register()
        self._heartbeat.start()  # renews the Lease at once
        self.informers.start()
        await self.ctx.services.wait_synced()  # Service env vars need the full list
        self._pods = self.informers.informer(POD, fields={"spec.nodeName": cfg.node_name})
        self.informers.start()
        await self._pods.wait_synced()
        listed = self._pods.list()
        await self._recover(listed)
        self._pods.add_handler(self._on_pod)  # a worker for every pod cached, then changes
        self._token_refresh = asyncio.create_task(self._refresh_tokens())
        app = build_app(self._locate_log, [*streaming_routes(self._find), *self.extra_routes],
                        cfg.kubelet_client_cns)
        self._runner = await serve(app, cfg)
        await self._start_proxy()
        self._metrics = MetricsReporter(self.client, cfg.node_name, cfg.metrics_seconds,
                                        lambda: list(self.workers.values()))
        self._metrics.start()
        if self.ctx.images.store is not None:
            self._image_gc = ImageGarbageCollector.for_node(cfg, self.ctx.images.store,
                                                            self.ctx.events)
            self._image_gc.start()
        log.info("node %s: agent started with %d pods", cfg.node_name, len(listed))

    async def _refresh_tokens(self) -> None:
        """Put a new token into every pod whose token is near its end (kubelet's token
        manager), checked every minute."""
        while True:
            await asyncio.sleep(TOKEN_CHECK_INTERVAL)
            for worker in list(self.workers.values()):
                if worker.sandbox_ready and not worker.terminating:
                    try:
                        await worker.write_serviceaccount()
                    except Exception as exc:  # noqa: BLE001 - retried at the next check
                        log.warning("pod %s: token refresh failed: %s", worker.uid, exc)

    async def _recover(self, pods: list[Obj]) -> None:
        """IPAM from the API's view; tear down what belongs to pods that are gone."""
        assert self.ctx is not None
        ipam = self.ctx.ipam
        live = {p["metadata"]["uid"]: p for p in pods
                if (p.get("status") or {}).get("phase") not in TERMINAL}
        ipam.ipam.retain_only(set(live))
        for uid, pod in sorted(live.items()):
            ip = (pod.get("status") or {}).get("podIP")
            if ip and not ipam.ipam.reserve(uid, ip):
                log.warning("pod %s: podIP %s is unusable or taken", uid, ip)
        ipam.save()
        self.ctx.spawner.discard_adopted(set(live))
        pods_dir = self.config.data_dir / "pods"
        known = {p["metadata"]["uid"] for p in pods}
        for entry in sorted(pods_dir.iterdir()) if pods_dir.exists() else []:
            if entry.name not in known:
                await remove_sandbox(self.ctx.ip, pod_netns(self.config.cluster_name,
                                                            entry.name), pod_veth(entry.name))
                shutil.rmtree(entry, ignore_errors=True)

    async def _start_proxy(self) -> None:
        if not self.config.run_proxy:
            return
        from portico.proxy import Proxier, ProxyConfig

        c = self.config
        proxy_config = ProxyConfig(node_name=c.node_name, node_ip=c.node_ip, pod_cidr=c.pod_cidr)
        self._proxier = Proxier(proxy_config, self.informers)
        await self._proxier.start()
        from portico.netpol import PolicyAgent

        self._policy_agent = PolicyAgent(proxy_config, self.informers)
        self._proxier.extra_metrics.append(self._policy_agent.metrics)
        await self._policy_agent.start()

    def _on_pod(self, previous: Obj | None, current: Obj | None) -> None:
        """The node's pod informer: a worker per new pod, updates, `GONE` on deletion."""
        assert self.ctx is not None
        pod = current or previous
        assert pod is not None
        uid = pod["metadata"]["uid"]
        worker = self.workers.get(uid)
        if current is None:
            if worker is not None:
                worker.request_stop(StopMode.GONE)
            return
        if worker is None:
            worker = PodWorker(self.ctx, current)
            self.workers[uid] = worker
            worker.start().add_done_callback(functools.partial(self._worker_done, uid))
        worker.update(current)

    def _worker_done(self, uid: str, _task: asyncio.Task[None]) -> None:
        self.workers.pop(uid, None)
        if self.ctx is not None:
            self.ctx.objects.unregister(uid)

    def _find(self, namespace: str, name: str) -> PodWorker | None:
        for worker in self.workers.values():
            if worker.namespace == namespace and worker.name == name:
                return worker
        return None

    def _locate_log(self, namespace: str, pod: str, container: str,
                    previous: bool) -> LogTarget:
        worker = self._find(namespace, pod)
        if worker is None:
            raise LogLookupError(404, f'pods "{pod}" not found')
        runner = next((r for r in worker.init + worker.containers
                       if r.record.name == container), None)
        if runner is None:
            raise LogLookupError(400, f'container "{container}" in pod "{pod}" is not valid')
        count = runner.record.restart_count - (1 if previous else 0)
        path = container_log(self.config.data_dir, worker.uid, container, count)
        if count < 0 or not path.exists():
            if previous:
                raise LogLookupError(
                    400, f'previous terminated container "{container}" in pod "{pod}" '
                         "not found")
            raise LogLookupError(400, f'container "{container}" in pod "{pod}" is waiting '
                                      f"to start: {runner.record.reason}")
        proc = runner.proc

        def running() -> bool:
            return (not previous and proc is not None and proc.running()
                    and runner.proc is proc)
        return LogTarget(path, running)

    async def stop(self) -> None:
        """Node shutdown: stop every pod (keep the objects), then the server and beats."""
        if self._pods is not None:
            await self._pods.stop()
        if self._token_refresh:
            self._token_refresh.cancel()
        if self._metrics is not None:
            await self._metrics.stop()
        if self._image_gc is not None:
            await self._image_gc.stop()
        workers = list(self.workers.values())
        for worker in workers:
            worker.request_stop(StopMode.NODE_SHUTDOWN)
        await asyncio.gather(*(w.task for w in workers if w.task), return_exceptions=True)
        await asyncio.to_thread(remove_node_containers, self.config.data_dir,
                                self.config.cluster_name)  # any a failed stop left
        if self._policy_agent is not None:
            with contextlib.suppress(Exception):
                await self._policy_agent.stop()
        if self._proxier is not None:
            with contextlib.suppress(Exception):
                await self._proxier.stop()
        await self.informers.stop()
        if self.ctx is not None:
            await self.ctx.objects.stop()
            await self.ctx.events.close()
        if self._heartbeat is not None:
            await self._heartbeat.stop()
        if self._runner is not None:
            await self._runner.cleanup()
        if self.ctx is not None:
            await self.ctx.spawner.close()
            await self.ctx.ipam.flush()
        with contextlib.suppress(Exception):
            await self.client.close()
        log.info("node %s: agent stopped", self.config.node_name)
