"""The pod worker: one sequential worker per pod uid (parallel across pods).

`PodWorker.update(pod)` only records the newest object and wakes the worker.
`run()` is the pod's whole life: its volumes (`_volume_manager`: until they can be
set up, FailedMount events and no sandbox; then kept current every
`volume_sync_seconds`), sandbox (netns, veth, address, resolv.conf,
hosts, service-account files), init containers one at a time, then every
container in parallel (`ContainerRunner.loop`), until the pod gets a
deletionTimestamp (graceful termination: still Ready while serving, preStop, SIGTERM,
SIGKILL after the grace period, sandbox torn down, pod object deleted with
gracePeriodSeconds=0), is deleted outright, or the agent shuts down (node
shutdown: processes killed and sandbox removed, the object and the address kept).
A pod whose containers a previous agent's launcher kept (`adopting`) keeps its
sandbox and its completed init containers, and its containers are adopted
(`_adoption`) instead of started.

The sandbox's resolv.conf is kubelet's (`_dns`, from dnsPolicy, dnsConfig and the
node's resolv.conf); a sandbox that cannot be made is a FailedCreatePodSandBox event.

Status: every change calls `mark_dirty()`; one status task computes
`pod_status` and sends a JSON merge patch to `pods/status` when it differs from
what was last reported.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from portico.agent import _events as ev
from portico.agent._adoption import reported_status, restore_finished
from portico.agent._backoff import CrashLoopBackoff
from portico.agent._config import AgentConfig
from portico.agent._containers import ContainerRunner, now_rfc3339
from portico.agent._dns import ClusterDns, DnsConfig, parse_resolv_conf, pod_dns, render
from portico.agent._env import MASTER_NAMESPACE, EnvSources, referenced_objects
from portico.agent._ipam import IpamStore
from portico.agent._names import pod_dir, pod_netns, pod_veth, serviceaccount_dir
from portico.agent._object_cache import ObjectCache
from portico.agent._oci import ImageRuntime
from portico.agent._oci_namespaces import remove_image_namespaces
from portico.agent._sandbox import (
    IpRunner,
    SandboxSpec,
    create_sandbox,
    hosts_file,
    keep_sandbox,
    pod_hostname,
    remove_sandbox,
)
from portico.agent._spawner import PodPlace, Spawner
from portico.agent._status import (
    ContainerRecord,
    PodFacts,
    Reason,
    State,
    merge_patch,
    pod_phase,
    pod_status,
)
from portico.agent._tokens import TokenManager, token_sources, write_files
from portico.agent._volume_manager import PodVolumes
from portico.client import Api, ApiError, EventRecorder, Informer, PatchType
from portico.images import MappingSource
from portico.model.kinds import CONFIG_MAP, POD, SECRET
from portico.model.vocabulary import EventType, PodPhase, RestartPolicy

log = logging.getLogger("portico.agent.pod")
Object = dict[str, Any]
DEFAULT_GRACE = 30.0
TERMINAL = (PodPhase.SUCCEEDED.value, PodPhase.FAILED.value)


class StopMode(StrEnum):
    DELETE = "delete"  # deletionTimestamp: graceful, then delete the object
    GONE = "gone"  # the object is gone: stop now
    NODE_SHUTDOWN = "node-shutdown"  # the agent stops: kill, keep object and IP



@dataclass
class AgentContext:
    config: AgentConfig
    client: Api
    ip: IpRunner
    ipam: IpamStore
    mappings: MappingSource
    backoff: CrashLoopBackoff
    clock: Callable[[], float]
    spawner: Spawner
    services: Informer  # every Service, for the containers' Service environment variables
    events: EventRecorder  # kubelet's events (component kubelet, host the node)
    tokens: TokenManager  # bound ServiceAccount tokens of the pods
    objects: ObjectCache  # the ConfigMaps and Secrets the pods' volumes read, watched
    images: ImageRuntime = field(default_factory=ImageRuntime.disabled)  # pulled images


def _node_dns(path: Path | None) -> DnsConfig:
    """The node's resolv.conf (kubelet's `resolvConf`); none when unreadable."""
    try:
        return parse_resolv_conf(path.read_text()) if path else DnsConfig()
    except OSError:
        return DnsConfig()


class PodWorker:
    def __init__(self, ctx: AgentContext, pod: Object) -> None:
        self.ctx = ctx
        self.pod = pod
        meta = pod["metadata"]
        self.uid, self.name, self.namespace = meta["uid"], meta["name"], meta["namespace"]
        self.netns = pod_netns(ctx.config.cluster_name, self.uid)
        self.place = PodPlace(self.netns, pod_hostname(pod))
        self.veth = pod_veth(self.uid)
        self.pod_ip = ""
        self.start_time = (pod.get("status") or {}).get("startTime")
        self.sandbox_ready = False
        self.terminating = False
        self.adopting = ctx.spawner.keeps(self.uid)  # its containers outlived an agent
        self.env_sources = EnvSources()
        self.image_lock = asyncio.Lock()  # with shareProcessNamespace: one at a time (`_oci`)
        self.reported: Object = dict(pod.get("status") or {})
        spec = pod.get("spec") or {}
        self.init = [self._runner(c, True) for c in spec.get("initContainers") or []]
        self.containers = [self._runner(c, False) for c in spec.get("containers") or []]
        self.volumes = PodVolumes(ctx.client, ctx.config, pod_dir(ctx.config.data_dir, self.uid),
                                  ctx.tokens, ctx.objects)
        self._volume_sync: asyncio.Task[None] | None = None
        self._dirty = asyncio.Event()
        self._stop: asyncio.Future[StopMode] = asyncio.get_running_loop().create_future()
        self.task: asyncio.Task[None] | None = None

    def _runner(self, spec: Object, init: bool) -> ContainerRunner:
        rec = ContainerRecord(name=spec["name"], image=spec.get("image", ""), init=init)
        if not init and (self.pod["spec"].get("initContainers")):
            rec.reason = Reason.POD_INITIALIZING
        for prev in (self.pod.get("status") or {}).get(
                "initContainerStatuses" if init else "containerStatuses") or []:
            if prev.get("name") == rec.name and "waiting" not in (prev.get("state") or {}):
                # Recreated after a node restart: count it as a restart, as kubelet does.
                rec.restart_count = int(prev.get("restartCount") or 0) + 1
                old = (prev.get("state") or {}).get("running") or {}
                rec.last_terminated = {"exitCode": 255, "reason": Reason.UNKNOWN.value,
                                       "startedAt": old.get("startedAt"),
                                       "finishedAt": now_rfc3339()}
        return ContainerRunner(self, spec, rec)

    # -- inputs -------------------------------------------------------------------------------
    def update(self, pod: Object) -> None:
        self.pod = pod
        if pod["metadata"].get("deletionTimestamp"):
            self.request_stop(StopMode.DELETE)

    def request_stop(self, mode: StopMode) -> None:
        if not self._stop.done():
            self._stop.set_result(mode)

    def mark_dirty(self) -> None:
        self._dirty.set()

    def grace_period(self) -> float:
        meta, spec = self.pod["metadata"], self.pod.get("spec") or {}
        grace = meta.get("deletionGracePeriodSeconds")
        if grace is None:
            grace = spec.get("terminationGracePeriodSeconds")
        return float(DEFAULT_GRACE if grace is None else grace)

    # -- life ---------------------------------------------------------------------------------
    def start(self) -> asyncio.Task[None]:
        self.task = asyncio.create_task(self.run(), name=f"pod {self.namespace}/{self.name}")
        return self.task

    async def run(self) -> None:
        status_task = asyncio.create_task(self._status_loop())
        life = None
        try:
            if (self.pod.get("status") or {}).get("phase") not in TERMINAL and \
                    not self.pod["metadata"].get("deletionTimestamp"):
                life = asyncio.create_task(self._live())
                life.add_done_callback(self._life_ended)
            mode = await self._stop
            await self._finish(mode, life)
        except Exception:
            log.exception("pod %s/%s: worker failed", self.namespace, self.name)
            with contextlib.suppress(Exception):
                await self._finish(StopMode.NODE_SHUTDOWN, life)
        finally:
            status_task.cancel()

    def _life_ended(self, life: asyncio.Task[None]) -> None:
        """A bug that ends the containers' worker is logged when it happens, not at stop."""
        if not life.cancelled() and (error := life.exception()) is not None:
            log.error("pod %s/%s: containers' worker failed", self.namespace, self.name,
                      exc_info=error)

    def _mount_failed(self, messages: list[str]) -> None:
        self.mark_dirty()  # Pending, its containers ContainerCreating
        for message in messages:
            self.ctx.events.emit(self.pod, EventType.WARNING, ev.Reason.FAILED_MOUNT, message)

    async def _sync_volumes(self) -> None:
        """Keep the API-backed volumes current while the pod runs (kubelet's pod sync)."""
        while True:
            await asyncio.sleep(self.ctx.config.volume_sync_seconds)
            try:
                await self.volumes.refresh(self.pod)
            except Exception as error:  # the API is unreachable: next round
                log.warning("pod %s/%s: volume refresh failed: %r", self.namespace, self.name,
                            error)

    async def _live(self) -> None:
        await self.volumes.wait_ready(lambda: self.pod, self._mount_failed)
        if self.volumes.has_api_data(self.pod):
            self._volume_sync = asyncio.create_task(self._sync_volumes())
        try:
            await self._setup()
        except Exception as error:
            log.exception("pod %s/%s: sandbox failed", self.namespace, self.name)
            self.ctx.events.emit(self.pod, EventType.WARNING, ev.Reason.FAILED_CREATE_POD_SANDBOX,
                                 ev.SANDBOX_FAILED.format(message=error))
            for runner in self.init + self.containers:
                runner.record.reason, runner.record.message = "CreatePodSandboxError", str(error)
            self.mark_dirty()
            return
        policy = RestartPolicy(self.pod["spec"].get("restartPolicy") or RestartPolicy.ALWAYS)
        init_policy = RestartPolicy.NEVER if policy is RestartPolicy.NEVER \
            else RestartPolicy.ON_FAILURE
        for runner in self.init:
            if self.adopting:  # done before the agent restarted
                restore_finished(runner.record, reported_status(self.pod, runner.record.name,
                                                                True))
                continue
            await runner.loop(init_policy)
            if runner.stopping or runner.record.exit_code != 0:
                return
        for runner in self.containers:
            runner.record.reason = Reason.CONTAINER_CREATING
        await asyncio.gather(*(runner.loop(policy) for runner in self.containers))
        if self._phase() in TERMINAL:
            # A finished pod keeps its object (and podIP in status) but not its sandbox.
            await remove_sandbox(self.ctx.ip, self.netns, self.veth)
            self.ctx.ipam.release(self.uid)

    async def _setup(self) -> None:
        cfg = self.ctx.config
        self.pod_ip = self.ctx.ipam.allocate(self.uid)
        spec = self.pod["spec"]
        hostname = self.place.hostname
        prefixlen = self.ctx.ipam.ipam.network.prefixlen
        await (keep_sandbox if self.adopting else create_sandbox)(self.ctx.ip, SandboxSpec(
            netns=self.netns, veth=self.veth, pod_ip=self.pod_ip, prefixlen=prefixlen,
            bridge_ip=cfg.bridge_ip, resolv_conf=await self._resolv_conf(),
            hosts=hosts_file(self.pod_ip, hostname, spec.get("hostAliases") or [])))
        self.sandbox_ready = True
        self.start_time = self.start_time or now_rfc3339()
        self.pod.setdefault("status", {})["podIP"] = self.pod_ip
        self.pod["status"]["hostIP"] = cfg.node_ip
        await self.write_serviceaccount()
        self.env_sources = await self._env_sources()
        # no status report of its own: the containers' start follows within milliseconds
        # and reports the sandbox's podIP with it (a failure to start reports it too)

    async def _resolv_conf(self) -> str:
        """kubelet's resolv.conf for the pod, with its DNSConfigForming events."""
        cfg = self.ctx.config
        host = await asyncio.to_thread(_node_dns, cfg.resolv_conf)
        cluster = ClusterDns(tuple(filter(None, [cfg.cluster_dns])), cfg.cluster_domain)
        dns, warnings = pod_dns(self.pod["spec"], self.namespace, cluster, host)
        for warning in warnings:
            self.ctx.events.emit(self.pod, EventType.WARNING, ev.Reason.DNS_CONFIG_FORMING,
                                 warning)
        return render(dns)

    async def write_serviceaccount(self) -> None:
        """The pod's token (TokenRequest, bound to the pod), `ca.crt` and `namespace` files,
        when it mounts a service-account token; also called to put a refreshed token in."""
        sources = token_sources(self.pod)
        if not sources:
            return
        token = await self.ctx.tokens.token(self.pod, sources[0])
        sa = serviceaccount_dir(self.ctx.config.data_dir, self.uid)
        await asyncio.to_thread(write_files, sa, {
            "token": token.encode(), "ca.crt": self.ctx.config.client_ca.read_bytes(),
            "namespace": self.namespace.encode()})

    async def _env_sources(self) -> EnvSources:
        client, ns = self.ctx.client, self.namespace
        services = self.ctx.services.list(ns)  # kubelet's service lister
        if ns != MASTER_NAMESPACE:
            master = self.ctx.services.get(f"{MASTER_NAMESPACE}/kubernetes")
            services += [master] if master else []
        spec = self.pod["spec"]
        cms, secrets = referenced_objects(
            list(spec.get("initContainers") or []) + list(spec.get("containers") or []))
        found_cms = {n: await client.get_or_none(CONFIG_MAP, n, ns) for n in sorted(cms)}
        found_secrets = {n: await client.get_or_none(SECRET, n, ns) for n in sorted(secrets)}
        return EnvSources(
            services=services, configmaps={k: v for k, v in found_cms.items() if v},
            secrets={k: v for k, v in found_secrets.items() if v},
            node_ip=self.ctx.config.node_ip,
            serviceaccount_dir=str(serviceaccount_dir(self.ctx.config.data_dir, self.uid))
            if token_sources(self.pod) else "")

    async def _finish(self, mode: StopMode, life: asyncio.Task[None] | None) -> None:
        self.terminating = True
        if mode is not StopMode.DELETE:
            # a graceful delete keeps serving (Ready) until the containers stop, as kubelet
            # does: the endpoint is then serving and terminating
            for runner in self.init + self.containers:
                runner.record.ready = False
        self.mark_dirty()
        grace = 0.0 if mode is StopMode.GONE else self.grace_period()
        if mode is StopMode.NODE_SHUTDOWN:
            grace = min(grace, self.ctx.config.shutdown_grace_seconds)
        await asyncio.gather(*(r.stop(grace, pre_stop=mode is StopMode.DELETE,
                                      announce=mode is not StopMode.NODE_SHUTDOWN)
                               for r in self.init + self.containers))
        if life is not None:
            life.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await life
        if self._volume_sync is not None:
            self._volume_sync.cancel()
        await remove_sandbox(self.ctx.ip, self.netns, self.veth)
        await self.volumes.teardown()
        if mode is StopMode.NODE_SHUTDOWN:
            return
        await asyncio.to_thread(remove_image_namespaces, self.ctx.config, self.uid)
        self.ctx.ipam.release(self.uid)
        for runner in self.init + self.containers:
            self.ctx.backoff.forget(runner.key)
        shutil.rmtree(pod_dir(self.ctx.config.data_dir, self.uid), ignore_errors=True)
        self.ctx.tokens.forget(self.uid)
        if mode is StopMode.DELETE:
            await self._delete_object()

    async def _delete_object(self) -> None:
        """Delete with gracePeriodSeconds=0, only if the object is still this uid."""
        try:
            live = await self.ctx.client.get(POD, self.name, namespace=self.namespace)
            if (live.get("metadata") or {}).get("uid") != self.uid:
                return
            await self.ctx.client.delete(POD, self.name, namespace=self.namespace,
                                         grace_period=0)
        except ApiError as error:
            if error.code != 404:
                raise

    # -- status -------------------------------------------------------------------------------
    def _facts(self) -> PodFacts:
        return PodFacts(
            spec=self.pod.get("spec") or {}, previous=self.reported, now=now_rfc3339(),
            host_ip=self.ctx.config.node_ip, pod_ip=self.pod_ip, start_time=self.start_time,
            sandbox_ready=self.sandbox_ready and not self.terminating,
            terminating=self.terminating,
            init_records=[r.record for r in self.init],
            records=[r.record for r in self.containers])

    def _phase(self) -> str:
        return pod_phase(self._facts()).value

    def status(self) -> Object:
        return pod_status(self._facts())

    async def _status_loop(self) -> None:
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            current = self.status()
            patch = merge_patch(self.reported, current)
            if not patch:
                continue
            try:
                await self.ctx.client.patch(POD.status, self.name, {"status": patch},
                                            namespace=self.namespace,
                                            patch_type=PatchType.MERGE)
                self.reported = current
            except ApiError as error:
                if error.code == 404:
                    return
                log.warning("pod %s/%s: status patch failed: %s", self.namespace, self.name,
                            error)
                await asyncio.sleep(1.0)
                self._dirty.set()
            except Exception as error:  # connection errors: retry
                log.warning("pod %s/%s: status patch failed: %r", self.namespace, self.name,
                            error)
                await asyncio.sleep(1.0)
                self._dirty.set()

    def record_state(self, container: str) -> tuple[State, int] | None:
        """(state, restartCount) of a container, for the log server."""
        for runner in self.init + self.containers:
            if runner.record.name == container:
                return runner.record.state, runner.record.restart_count
        return None
