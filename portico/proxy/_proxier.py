"""The Proxier: informers -> track -> (coalesced) sync -> one nft transaction.

Theory of operation. `start()` registers handlers on the shared informers of
Services, EndpointSlices and Nodes (`portico.client.InformerFactory`: list, then
watch from the list's resourceVersion, resume after errors, relist on 410 with
the difference reported as changes, so nothing is lost), waits until all three
have synced, runs the first (full) sync inline and starts the servers. Every
recorded change asks the `CoalescingRunner` for a sync; the runner folds bursts
(at most one sync per `min_sync_interval`) and also syncs every `sync_period`.

A sync (`sync()`): plan (pure, `ProxyState.plan`), apply the one transaction
(`NftRunner.run`), then on success commit the plan, clear stale UDP conntrack
entries, update the health-check servers and the metrics. On failure the next
sync is a full one, retried after a second. `stop()` stops the runner and the
servers (the informers belong to their factory's owner) but leaves the rules: a
restarted proxy must not interrupt traffic, and its first sync replaces the
table atomically.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from portico.client import CoalescingRunner, InformerFactory, Obj, key_of, split_key
from portico.model import core, discovery
from portico.model.kinds import ENDPOINT_SLICE, NODE, SERVICE
from portico.proxy import collector
from portico.proxy._conntrack import clear
from portico.proxy._health import ProxyServers, ServiceHealthServers
from portico.proxy._metrics import ProxyMetrics
from portico.proxy._state import ProxyState
from portico.proxy.apply import NftCommand, NftError, NftRunner
from portico.proxy.config import ProxyConfig, split_address
from portico.proxy.model import (
    ServiceName,
    ServicePort,
    ServicePortName,
    SliceInfo,
    service_ports,
    slice_info,
)

log = logging.getLogger("portico.proxy")
V = TypeVar("V")

RETRY_AFTER_FAILURE = 1.0


class Proxier:
    def __init__(self, config: ProxyConfig, informers: InformerFactory,
                 runner: NftRunner | None = None) -> None:
        self.config = config
        self.nft: NftRunner = runner or NftCommand(config.netns)
        self.state = ProxyState(config)
        self.metrics = ProxyMetrics()
        self.runner = CoalescingRunner("proxy-sync", self.sync, config.min_sync_interval,
                                       config.sync_period)
        self.health_servers = ServiceHealthServers(config.node_ip, config.netns)
        self.servers = ProxyServers(
            split_address(config.healthz_address) if config.healthz_address else None,
            split_address(config.metrics_address) if config.metrics_address else None,
            config.netns, self._render_metrics, config.sync_period)
        self.extra_metrics: list[Callable[[], Awaitable[str]]] = []
        """More metrics for `/metrics` (the node's policy agent adds its counters)."""
        self._factory = informers
        self._informers = {SERVICE: informers.informer(SERVICE),
                           ENDPOINT_SLICE: informers.informer(ENDPOINT_SLICE),
                           NODE: informers.informer(NODE)}
        self._node_labels: dict[str, str] | None = None
        self._services: dict[str, dict[ServicePortName, ServicePort]] = {}
        self._slices: dict[str, SliceInfo] = {}
        self._lock = asyncio.Lock()

    # --- lifecycle ------------------------------------------------------------------

    async def start(self) -> None:
        handlers = {SERVICE: self._on_service, ENDPOINT_SLICE: self._on_slice,
                    NODE: self._on_node}
        for kind, informer in self._informers.items():
            informer.add_handler(handlers[kind])
        self._factory.start()
        for informer in self._informers.values():
            await informer.wait_synced()
        await self.sync()
        await self.servers.start()
        self.runner.start()

    async def stop(self) -> None:
        await self.runner.stop()
        await self.servers.stop()
        await self.health_servers.stop()
        if isinstance(self.nft, NftCommand):
            self.nft.close()

    async def _render_metrics(self) -> str:
        texts = [self.metrics.render()] + [await extra() for extra in self.extra_metrics]
        return "".join(texts)

    # --- tracking (cheap; never renders) ------------------------------------------

    def _on_node(self, previous: Obj | None, current: Obj | None) -> None:
        obj = current or previous
        assert obj is not None
        meta = obj.get("metadata") or {}
        if meta.get("name") != self.config.node_name:
            return
        labels = None if current is None else dict(meta.get("labels") or {})
        if labels != self._node_labels:
            self._node_labels = labels
            self.state.need_full_sync = True
            self._queue()

    def _on_service(self, previous: Obj | None, current: Obj | None) -> None:
        key = key_of(current or previous or {})
        namespace, name = split_key(key)
        parsed = (service_ports(core.Service.from_obj(current)) or None) \
            if current is not None else None
        changed = self.state.service_changes.update(
            ServiceName(namespace or "default", name), self._services.get(key), parsed,
            time.time())
        _remember(self._services, key, parsed)
        if changed:
            self._queue()

    def _on_slice(self, previous: Obj | None, current: Obj | None) -> None:
        key = key_of(current or previous or {})
        namespace, name = split_key(key)
        parsed = slice_info(discovery.EndpointSlice.from_obj(current)) \
            if current is not None else None
        changed = self.state.slice_changes.update(
            (namespace or "", name), self._slices.get(key), parsed, time.time())
        _remember(self._slices, key, parsed)
        if changed:
            self._queue()

    def _queue(self) -> None:
        self.servers.queued()
        self.runner.run()

    # --- sync ---------------------------------------------------------------------

    async def sync(self) -> None:
        """One sync: plan, apply atomically, then commit and follow-ups."""
        async with self._lock:
            if not self.state.pending():
                self.servers.updated()
                return
            await self._sync_locked()

    async def _sync_locked(self) -> None:
        started = time.monotonic()
        with collector.paused():
            plan = self.state.plan()
        assert plan.tx is not None
        kind = "full" if plan.full else "partial"
        try:
            if plan.tx.operations:
                await self.nft.run(plan.tx)
        except (NftError, OSError) as exc:
            log.error("%s sync failed, next sync is full: %s", kind, exc)
            self.state.failed()
            self.metrics.failures.inc()
            self.metrics.syncs.inc(f'type="{kind}",result="failure"')
            self.runner.retry_after(RETRY_AFTER_FAILURE)
            return
        with collector.paused():
            self.state.commit(plan)
        if plan.full:
            collector.settle()
        done = time.time()
        elapsed = time.monotonic() - started
        self._observe(kind, elapsed, len(plan.tx), plan.service_changes, plan.endpoint_changes)
        for triggered in plan.trigger_times:
            self.metrics.programming.observe(max(0.0, done - triggered))
        self.servers.updated()
        log.debug("%s sync: %d operations in %.1f ms", kind, len(plan.tx), elapsed * 1000)
        await self.health_servers.sync(self.state.health_by_port())
        if plan.stale:
            await clear(plan.stale, self.config.netns)

    def _observe(self, kind: str, elapsed: float, operations: int, services: int,
                 endpoints: int) -> None:
        m = self.metrics
        m.sync_duration.observe(elapsed)
        (m.full_sync_duration if kind == "full" else m.partial_sync_duration).observe(elapsed)
        m.syncs.inc(f'type="{kind}",result="success"')
        m.last_sync.set(time.time())
        m.nft_operations.set(operations)
        m.service_changes.inc(by=services)
        m.endpoint_changes.inc(by=endpoints)


def _remember(known: dict[str, V], key: str, value: V | None) -> None:
    if value is None:
        known.pop(key, None)
    else:
        known[key] = value
