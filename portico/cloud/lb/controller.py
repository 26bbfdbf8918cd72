"""The cloud provider's service controller for LoadBalancer Services (the I/O shell).

Theory of operation (level-triggered): informers on Services, Nodes and
LoadBalancer objects only poke a coalescing runner; each sync reads every cached
object, asks the pure planner (`build.plan`) for the whole desired state and then, in
this order:
1. adds the `service.kubernetes.io/load-balancer-cleanup` finalizer to managed
   Services that lack it (before anything is built for them);
2. hands the model to the prober and the data plane and applies it (nft + routes);
3. writes `status.loadBalancer.ingress` of each Service whose address changed,
   and the LoadBalancer objects (deleted when they have no frontend left);
4. records Events (Ensuring/Ensured on change, SyncLoadBalancerFailed on error);
5. clears status and removes the finalizer of Services that no longer want a load
   balancer (their rules were removed in step 2, so the address is free).
A second runner re-renders only the backend maps when a probe flips and writes
`status.backendHealth`. Failures make the runner retry; nothing is remembered
that the API does not also hold, except what was last written (to skip no-op writes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

from portico.client import Api, ApiError, CoalescingRunner, InformerFactory, PatchType, Views
from portico.cloud.lb import objects
from portico.cloud.lb.apply import DataPlane, Runner
from portico.cloud.lb.build import LbConfig, Plan, plan
from portico.cloud.lb.events import EventRecorder, Reason
from portico.cloud.lb.model import (
    CLEANUP_FINALIZER,
    LoadBalancer,
    ServiceInfo,
    parse_node,
    parse_service,
    probe_target,
)
from portico.cloud.lb.probes import NetnsSockets, Prober
from portico.model.kinds import NODE, SERVICE
from portico.model.vocabulary import EventType

log = logging.getLogger("portico.cloud.lb")

LOAD_BALANCER = objects.LOAD_BALANCER
FIELD_MANAGER = "portico-cloud-lb"


@dataclass(frozen=True)
class ControllerConfig:
    lb: LbConfig = field(default_factory=LbConfig)
    probe_timeout: float = 1.0
    min_sync_interval: float = 0.02
    resync_interval: float = 30.0
    failure_repeat: float = 30.0


def _ingress(ip: str | None) -> list[dict[str, str]]:
    return [{"ip": ip, "ipMode": "VIP"}] if ip else []


class LoadBalancerController:
    def __init__(self, client: Api, runner: Runner, sockets: NetnsSockets,
                 config: ControllerConfig) -> None:
        self.client = client
        self.config = config
        self.informers = InformerFactory(client)
        self.services = self.informers.informer(SERVICE)
        self.nodes = self.informers.informer(NODE)
        self.lb_objects = self.informers.informer(LOAD_BALANCER)
        self.service_infos = Views(self.services, parse_service)
        self.node_infos = Views(self.nodes, parse_node)
        self.events = EventRecorder(client)
        self.prober = Prober(sockets, self._health_changed, config.probe_timeout)
        self.dataplane = DataPlane(runner, self.prober.health)
        self._sync_runner = CoalescingRunner("cloud-lb", self.sync, config.min_sync_interval,
                                             config.resync_interval)
        self._health_runner = CoalescingRunner("cloud-lb-health", self.sync_health,
                                               config.min_sync_interval, config.resync_interval)
        self._ensured: dict[str, tuple[Any, ...]] = {}  # uid -> what was last ensured
        self._written_status: dict[str, dict[str, Any]] = {}
        self._written_spec: dict[str, dict[str, Any]] = {}
        self._seeded = False
        self._failed_at: dict[str, float] = {}

    # ---- lifecycle -----------------------------------------------------------------

    async def start(self) -> None:
        for informer in (self.services, self.nodes, self.lb_objects):
            informer.add_handler(lambda _old, _new: self._sync_runner.run())
        self.informers.start()
        await self.informers.wait_synced()
        self._sync_runner.start()
        self._health_runner.start()
        self._sync_runner.run()

    async def stop(self) -> None:
        await self.informers.stop()
        await self._sync_runner.stop()
        await self._health_runner.stop()
        await self.prober.stop()

    def _health_changed(self) -> None:
        self._health_runner.run()

    # ---- the sync --------------------------------------------------------------------

    def _snapshot(self) -> tuple[list[ServiceInfo], list[Any], list[dict[str, Any]]]:
        return self.service_infos.list(), self.node_infos.list(), self.lb_objects.list()

    async def sync(self) -> None:
        """One full reconcile. Failed Services wait for the next change or resync."""
        services, nodes, lb_objects = self._snapshot()
        desired = plan(services, nodes, self.config.lb, objects.remembered(lb_objects))
        for outcome in desired.outcomes.values():
            if not outcome.service.has_finalizer:
                await self._set_finalizer(outcome.service, add=True)
        await self._ensuring_events(desired)
        lbs = list(desired.load_balancers.values())
        self._seed_health(lbs, lb_objects)
        self.prober.set_targets({probe_target(p, m) for lb in lbs for p in lb.probes
                                 for m in lb.backend_address_pool.members})
        await self.prober.settled(self.config.probe_timeout)  # new rules start with health
        self.dataplane.set_model(lbs)
        await self.dataplane.sync()
        await self._write_statuses(desired)
        await self._write_load_balancers(desired, lb_objects)
        await self._result_events(desired)
        for svc in desired.cleanup:
            await self._clean_up(svc)
        return None

    def _failure_due(self, uid: str, fingerprint: tuple[Any, ...]) -> bool:
        """Report a failure when it is new, and again every `failure_repeat` seconds."""
        now = asyncio.get_running_loop().time()
        last = self._failed_at.get(uid)
        if self._ensured.get(uid) == fingerprint and last is not None and \
                now - last < self.config.failure_repeat:
            return False
        self._failed_at[uid] = now
        return True

    async def sync_health(self) -> None:
        await self.dataplane.sync()
        for lb in self.dataplane.load_balancers:
            await self._write_lb_status(lb)

    def _seed_health(self, lbs: list[LoadBalancer], lb_objects: list[dict[str, Any]]) -> None:
        """At start, trust the last recorded probe states so a restart keeps serving."""
        if self._seeded:
            return
        self._seeded = True
        recorded = objects.recorded_health(lb_objects)
        for lb in lbs:
            for p in lb.probes:
                for m in lb.backend_address_pool.members:
                    state = recorded.get((p.name, m.name))
                    if state is not None:
                        self.prober.seed(probe_target(p, m), state)

    # ---- services --------------------------------------------------------------------

    def _fingerprint(self, desired: Plan, svc: ServiceInfo) -> tuple[Any, ...]:
        outcome = desired.outcomes[svc.uid]
        return (outcome.ip, outcome.error, desired.rules_of(svc), desired.probes_of(svc))

    async def _ensuring_events(self, desired: Plan) -> None:
        for uid, outcome in desired.outcomes.items():
            if self._ensured.get(uid) != self._fingerprint(desired, outcome.service):
                await self.events.record(outcome.service, EventType.NORMAL, Reason.ENSURING,
                                         "Ensuring load balancer")

    async def _result_events(self, desired: Plan) -> None:
        for uid, outcome in desired.outcomes.items():
            fingerprint = self._fingerprint(desired, outcome.service)
            if outcome.error and self._failure_due(uid, fingerprint):
                await self.events.record(
                    outcome.service, EventType.WARNING, Reason.FAILED,
                    f"Error syncing load balancer: failed to ensure load balancer: "
                    f"{outcome.error}")
            elif self._ensured.get(uid) != fingerprint:
                await self.events.record(outcome.service, EventType.NORMAL, Reason.ENSURED,
                                         "Ensured load balancer")
            self._ensured[uid] = fingerprint

    async def _write_statuses(self, desired: Plan) -> None:
        for outcome in desired.outcomes.values():
            svc = outcome.service
            if tuple(i for i in [outcome.ip] if i) == svc.ingress_ips:
                continue
            if outcome.ip is None and not svc.ingress_ips:
                continue
            await self._patch_status(svc, outcome.ip)

    async def _patch_status(self, svc: ServiceInfo, ip: str | None) -> None:
        body = {"status": {"loadBalancer": {"ingress": _ingress(ip) or None}}}
        try:
            self.services.assume(await self.client.patch(SERVICE.status, svc.name, body,
                                                         namespace=svc.namespace))
        except ApiError as exc:
            if exc.status.code != 404:
                raise

    async def _set_finalizer(self, svc: ServiceInfo, add: bool) -> None:
        current = list(svc.finalizers)
        wanted = current + [CLEANUP_FINALIZER] if add else \
            [f for f in current if f != CLEANUP_FINALIZER]
        patch = [{"op": "test", "path": "/metadata/finalizers", "value": current},
                 {"op": "replace", "path": "/metadata/finalizers", "value": wanted}] \
            if current else [{"op": "add", "path": "/metadata/finalizers", "value": wanted}]
        try:
            self.services.assume(await self.client.patch(SERVICE, svc.name, patch,
                                                         namespace=svc.namespace,
                                                         patch_type=PatchType.JSON))
        except ApiError as exc:
            if exc.status.code != 404:
                raise

    async def _clean_up(self, svc: ServiceInfo) -> None:
        await self.events.record(svc, EventType.NORMAL, Reason.DELETING,
                                 "Deleting load balancer")
        if svc.ingress_ips and not svc.deleting:
            await self._patch_status(svc, None)
        await self._set_finalizer(svc, add=False)
        await self.events.record(svc, EventType.NORMAL, Reason.DELETED, "Deleted load balancer")
        self._ensured.pop(svc.uid, None)
        self._failed_at.pop(svc.uid, None)

    # ---- LoadBalancer objects --------------------------------------------------------

    async def _write_load_balancers(self, desired: Plan, existing: list[dict[str, Any]]
                                    ) -> None:
        wanted = {lb.name: lb for lb in desired.load_balancers.values()}
        for obj in existing:
            name = str((obj.get("metadata") or {}).get("name"))
            if name not in wanted:
                with contextlib.suppress(ApiError):
                    await self.client.delete(LOAD_BALANCER, name)
                self._written_spec.pop(name, None)
                self._written_status.pop(name, None)
            else:
                self._written_spec.setdefault(name, obj.get("spec") or {})
        for name, lb in wanted.items():
            spec = objects.spec(lb)
            if self._written_spec.get(name) != spec:
                body = objects.body(lb)
                try:
                    await self.client.patch(LOAD_BALANCER, name, {"spec": spec})
                except ApiError as exc:
                    if exc.status.code != 404:
                        raise
                    await self.client.create(LOAD_BALANCER, body)
                self._written_spec[name] = spec
            await self._write_lb_status(lb)

    async def _write_lb_status(self, lb: LoadBalancer) -> None:
        status = objects.status(lb, self.prober.health())
        if self._written_status.get(lb.name) == status:
            return
        try:
            await self.client.patch(LOAD_BALANCER.status, lb.name, {"status": status})
            self._written_status[lb.name] = status
        except ApiError as exc:
            log.debug("cannot write status of LoadBalancer %s: %s", lb.name, exc)
