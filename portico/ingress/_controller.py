"""The ingress controller: informers -> coalescing sync -> plan -> HAProxy; status and Events.

Theory of operation (level-triggered): informers cache Ingresses, IngressClasses,
Services, EndpointSlices and Secrets; any change only wakes the sync loop, so a
burst of events makes one sync. A sync freezes the caches into a `Snapshot`,
builds the `Plan` (routes.build_plan) and hands it to the `Applier`, which uses
the runtime API or a checked hitless reload (all in the shared `CoalescingRunner`).
A failed sync is retried after a second; every 30 s a sync runs anyway. The
leader (Lease `--election-id` in our namespace) also writes the Ingress statuses
(status.changes) through the ingresses/status subresource and records one
Warning Event per problem the plan reports (unsupported or invalid annotations,
missing TLS Secrets).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import time
from pathlib import Path
from typing import Any

from portico.client import (
    Api,
    ApiError,
    CoalescingRunner,
    EventRecorder,
    InformerFactory,
)
from portico.ingress import status, tls
from portico.ingress._config import Config
from portico.ingress._http import Metrics
from portico.ingress._leader import LeaderElector
from portico.ingress.apply import Applier, Outcome
from portico.ingress.haproxy import HAProxyProcess
from portico.ingress.model import Plan, Settings, Snapshot, Warning_
from portico.ingress.routes import build_plan
from portico.model.kinds import ENDPOINT_SLICE, INGRESS, INGRESS_CLASS, SECRET, SERVICE, Kind
from portico.model.vocabulary import EventType

log = logging.getLogger("portico.ingress")
COMPONENT = "portico-ingress-controller"
RESYNC_SECONDS = 30.0
RETRY_SECONDS = 1.0
KINDS = (INGRESS, INGRESS_CLASS, SERVICE, ENDPOINT_SLICE, SECRET)


def settings_for(config: Config) -> Settings:
    from pathlib import PurePosixPath
    crt, key = tls.self_signed()
    return Settings(ingress_class=config.ingress_class, controller=config.controller_class,
                    state_dir=PurePosixPath(config.state_dir),
                    run_dir=PurePosixPath(config.run_dir), http_port=config.http_port,
                    https_port=config.https_port, stats_port=config.stats_port,
                    bind_address=config.bind_address, slot_scale=config.slot_scale,
                    default_certificate=crt + key)


class IngressController:
    def __init__(self, client: Api, config: Config,
                 haproxy_prefix: tuple[str, ...] = ()) -> None:
        self.client = client
        self.config = config
        self.settings = settings_for(config)
        self.haproxy = HAProxyProcess(config.state_dir / "haproxy.cfg",
                                      Path(self.settings.master_socket),
                                      Path(self.settings.admin_socket), config.haproxy,
                                      haproxy_prefix)
        self.applier = Applier(self.settings, self.haproxy)
        self.metrics = Metrics()
        self.factory = InformerFactory(client)
        self.informers = {kind: self.factory.informer(kind) for kind in KINDS}
        self.elector = LeaderElector(client, config.namespace, config.election_id,
                                     config.identity, self._leadership)
        self.events = EventRecorder(client, COMPONENT, host=config.identity)
        self.serving = False
        self._runner = CoalescingRunner("ingress-sync", self._sync, config.min_sync_interval,
                                        RESYNC_SECONDS)
        self._elector_task: asyncio.Task[None] | None = None
        self._recorded: set[tuple[str, str, str]] = set()

    # --- lifecycle ------------------------------------------------------------------
    async def start(self) -> None:
        for informer in self.informers.values():
            informer.add_handler(lambda _previous, _current: self._runner.run())
        self.factory.start()
        await self.factory.wait_synced()
        self._runner.start()
        self._runner.run()
        self._elector_task = asyncio.create_task(self.elector.run(), name="ingress-leader")

    async def stop(self) -> None:
        if self._elector_task is not None:
            self._elector_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._elector_task
        await self._runner.stop()
        await self.factory.stop()
        await self.haproxy.stop()
        shutil.rmtree(self.config.run_dir, ignore_errors=True)

    def _leadership(self, leader: bool) -> None:
        self.metrics.leader = leader
        self._runner.run()

    async def _sync(self) -> None:
        await self.sync()

    # --- one sync -------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        def by_key(kind: Kind) -> dict[tuple[str, str], dict[str, Any]]:
            out = {}
            for obj in self.informers[kind].list():
                meta = obj.get("metadata") or {}
                out[(str(meta.get("namespace") or ""), str(meta.get("name")))] = obj
            return out
        return Snapshot(ingresses=tuple(self.informers[INGRESS].list()),
                        ingress_classes=tuple(self.informers[INGRESS_CLASS].list()),
                        services=by_key(SERVICE),
                        endpoint_slices=tuple(self.informers[ENDPOINT_SLICE].list()),
                        secrets=by_key(SECRET))

    async def sync(self) -> Plan:
        started = time.monotonic()
        plan = build_plan(self.snapshot(), self.settings)
        result = await self.applier.apply(plan)
        self.metrics.observe(result.outcome.value, time.monotonic() - started)
        self.metrics.reloads = self.applier.reloads
        self.metrics.failed_reloads = self.applier.failed_reloads
        self.metrics.runtime_updates = self.applier.runtime_updates
        if result.outcome in (Outcome.INVALID, Outcome.FAILED):
            log.error("HAProxy config not applied (%s): %s", result.outcome, result.message)
            self._runner.retry_after(RETRY_SECONDS * 5)
        elif result.outcome != Outcome.UNCHANGED:
            log.info("config %s: %d ingresses, %d routes, %d backends", result.outcome.value,
                     len(plan.ingresses), len(plan.routes), len(plan.backends))
        self.serving = self.serving or self.haproxy.running
        if self.elector.is_leader:
            await self.write_status(plan)
            await self.record_warnings(plan.warnings)
        return plan

    async def write_status(self, plan: Plan) -> None:
        ns, name = self.config.publish_service
        addresses = status.published(self.informers[SERVICE].get(f"{ns}/{name}"))
        todo = status.changes(self.informers[INGRESS].list(), set(plan.ingresses), addresses)
        for namespace, ingress_name, entries in todo:
            body = {"status": {"loadBalancer": {"ingress": entries or None}}}
            try:
                await self.client.patch(INGRESS.status, ingress_name, body, namespace=namespace)
            except ApiError as exc:
                log.warning("status of ingress %s/%s: %s", namespace, ingress_name,
                            exc.status.message)

    async def record_warnings(self, warnings: tuple[Warning_, ...]) -> None:
        for warning in warnings:
            ingress = self.informers[INGRESS].get(f"{warning.ingress[0]}/{warning.ingress[1]}")
            uid = str(((ingress or {}).get("metadata") or {}).get("uid") or "")
            key = (uid, warning.reason.value, warning.message)
            if ingress is None or key in self._recorded:
                continue
            self._recorded.add(key)
            self.metrics.warnings += 1
            await self.events.record(ingress, EventType.WARNING, warning.reason.value,
                                     warning.message)

