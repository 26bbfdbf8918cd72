"""Start the controllers, as kube-controller-manager (plus kube-scheduler) does.

Every controller shares one `Api` and one informer per kind (`InformerFactory`).
Two patterns live here:
- the namespace, identity and garbage collector controllers resync from the full
  state (the first two from the API, the collector from the informers' caches),
  run by coalescing runners that any change of the kinds they follow (an informer
  handler) asks for a sync;
- the workload controllers (scheduler, ReplicaSet, Deployment, ReplicationController,
  StatefulSet, DaemonSet, Job, CronJob, EndpointSlice, node lifecycle, ...) each keep a
  work queue of object keys, so a change to one Deployment reconciles only it; they
  are `QueuedController`s made from one `ControllerContext` (`_controller`).
Queues start only after every informer has listed once (client-go's
`WaitForCacheSync`), so no controller acts on a partial view.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable, Iterable
from enum import StrEnum
from pathlib import Path

from portico.client import Api, CoalescingRunner, InformerFactory, kubeconfig_ca, wait_for_api
from portico.controllers._controller import ControllerContext, QueuedController
from portico.controllers._cronjob import CronJobController
from portico.controllers._daemonset import DaemonSetController
from portico.controllers._deployment import DeploymentController
from portico.controllers._disruption import DisruptionController
from portico.controllers._endpointslice import EndpointSliceController
from portico.controllers._garbage import GarbageCollector
from portico.controllers._hpa import HorizontalPodAutoscalerController
from portico.controllers._identity import IdentityController
from portico.controllers._job import JobController
from portico.controllers._namespace import NamespaceController
from portico.controllers._nodelifecycle import DEFAULT_GRACE_PERIOD, NodeLifecycleController
from portico.controllers._persistentvolume import PersistentVolumeController
from portico.controllers._replicaset import REPLICATION_CONTROLLER, ReplicaSetController
from portico.controllers._scheduler import Scheduler
from portico.controllers._statefulset import StatefulSetController
from portico.lifecycle import run_until_signalled
from portico.logs import setup as setup_logging
from portico.model.kinds import CLUSTER_ROLE, CONFIG_MAP, NAMESPACE, SECRET, SERVICE_ACCOUNT, Kind

log = logging.getLogger("portico.controllers")
# --horizontal-pod-autoscaler-sync-period (tests shorten it through the environment)
HPA_SYNC_ENV = "PORTICO_HPA_SYNC_SECONDS"
DEFAULT_HPA_SYNC_SECONDS = 15.0


class Controller(StrEnum):
    NAMESPACE = "namespace"
    GARBAGE_COLLECTOR = "garbagecollector"
    SCHEDULER = "scheduler"
    REPLICASET = "replicaset"
    DEPLOYMENT = "deployment"
    REPLICATION_CONTROLLER = "replicationcontroller"
    STATEFULSET = "statefulset"
    DAEMONSET = "daemonset"
    JOB = "job"
    CRONJOB = "cronjob"
    ENDPOINTSLICE = "endpointslice"
    NODE_LIFECYCLE = "nodelifecycle"
    PERSISTENT_VOLUME = "persistentvolume-binder"
    DISRUPTION = "disruption"
    HORIZONTAL_POD_AUTOSCALER = "horizontalpodautoscaling"
    IDENTITY = "identity"  # serviceaccount, root-ca-cert-publisher, clusterrole-aggregation


class ControllerManager:
    def __init__(self, kubeconfig: Path, enabled: Iterable[Controller | str] | None = None,
                 node_grace_period: float = DEFAULT_GRACE_PERIOD,
                 data_dir: Path | None = None, signing_key: Path | None = None) -> None:
        self.kubeconfig = kubeconfig
        # the cluster's data dir, where the local-path provisioner keeps volumes
        self.data_dir = data_dir or kubeconfig.resolve().parent.parent
        self.signing_key = signing_key  # the ServiceAccount key, for legacy Secret tokens
        self.enabled = {Controller(c) for c in enabled} if enabled is not None else set(
            Controller)
        self.node_grace_period = node_grace_period
        self._starting: asyncio.Task[None] | None = None
        self._runners: list[CoalescingRunner] = []
        self._queued: list[QueuedController] = []
        self._client: Api | None = None
        self._informers: InformerFactory | None = None

    async def start(self) -> None:
        self._client = Api.connect(self.kubeconfig, field_manager="portico-controller-manager")
        await wait_for_api(self._client)
        informers = self._informers = InformerFactory(self._client)
        self._start_resync_controllers(self._client, informers)
        ctx = ControllerContext(self._client, informers)
        self._queued = [new(ctx) for controller, new in self._queued_controllers().items()
                        if controller in self.enabled]
        if Controller.GARBAGE_COLLECTOR in self.enabled:
            self._runners.append(GarbageCollector(self._client, informers).runner)
        informers.start()
        self._starting = asyncio.create_task(self._start_queues(informers), name="start-queues")

    def _queued_controllers(self) -> dict[Controller, Callable[[ControllerContext],
                                                               QueuedController]]:
        """How to make each work-queue controller, in the order they are made."""
        hpa_sync = float(os.environ.get(HPA_SYNC_ENV) or DEFAULT_HPA_SYNC_SECONDS)
        return {
            Controller.SCHEDULER: Scheduler,
            Controller.REPLICASET: ReplicaSetController,
            Controller.DEPLOYMENT: DeploymentController,
            Controller.REPLICATION_CONTROLLER:
                lambda ctx: ReplicaSetController(ctx, REPLICATION_CONTROLLER),
            Controller.STATEFULSET: StatefulSetController,
            Controller.DAEMONSET: DaemonSetController,
            Controller.JOB: JobController,
            Controller.CRONJOB: CronJobController,
            Controller.ENDPOINTSLICE: EndpointSliceController,
            Controller.NODE_LIFECYCLE:
                lambda ctx: NodeLifecycleController(ctx, self.node_grace_period),
            Controller.PERSISTENT_VOLUME:
                lambda ctx: PersistentVolumeController(ctx, self.data_dir),
            Controller.HORIZONTAL_POD_AUTOSCALER:
                lambda ctx: HorizontalPodAutoscalerController(ctx, hpa_sync),
            Controller.DISRUPTION: DisruptionController,
        }

    async def _start_queues(self, informers: InformerFactory) -> None:
        await informers.wait_synced()
        for controller in self._queued:
            controller.start()
        for runner in self._runners:
            if not runner.started:
                runner.start()
        log.info("controllers started: %s", ", ".join(sorted(self.enabled)))

    def _start_resync_controllers(self, client: Api, informers: InformerFactory) -> None:
        runners: list[CoalescingRunner] = []
        if Controller.NAMESPACE in self.enabled:
            runners.append(CoalescingRunner("namespace-controller",
                                            NamespaceController(client).sync, 0.05, 10.0))
            self._follow(informers, runners[-1], NAMESPACE)
        if Controller.IDENTITY in self.enabled:
            runners.append(CoalescingRunner("identity-controllers", IdentityController(
                client, kubeconfig_ca(self.kubeconfig), self.signing_key).sync, 0.05, 30.0))
            self._follow(informers, runners[-1], NAMESPACE, SERVICE_ACCOUNT, CONFIG_MAP, SECRET,
                         CLUSTER_ROLE)
        self._runners = runners
        for runner in runners:
            runner.start()

    @staticmethod
    def _follow(informers: InformerFactory, runner: CoalescingRunner, *kinds: Kind) -> None:
        """Any change to an object of `kinds` asks `runner` for a sync."""
        for kind in kinds:
            informers.informer(kind).add_handler(lambda _previous, _current: runner.run())

    async def stop(self) -> None:
        if self._starting is not None:
            self._starting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._starting
        for controller in self._queued:
            await controller.stop()
        if self._informers is not None:
            await self._informers.stop()
        for runner in self._runners:
            await runner.stop()
        if self._client:
            await self._client.close()


async def _serve(kubeconfig: Path, node_grace_period: float, signing_key: Path | None) -> int:
    manager = ControllerManager(kubeconfig, node_grace_period=node_grace_period,
                                signing_key=signing_key)
    return await run_until_signalled(manager.start, manager.stop)


def run(kubeconfig: Path | str, node_grace_period: float = DEFAULT_GRACE_PERIOD,
        signing_key: str = "") -> int:
    """The controller-manager process (`portico up` forks it, the paths as strings):
    run until SIGTERM."""
    setup_logging()
    return asyncio.run(_serve(Path(kubeconfig), node_grace_period,
                              Path(signing_key) if signing_key else None))
