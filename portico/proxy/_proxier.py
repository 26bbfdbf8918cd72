"""The Proxier: list+watch -> track -> (coalesced) sync -> one nft transaction.

Theory of operation. `start()` lists Services, EndpointSlices and Nodes through
lightkube, records them in the change trackers, runs the first (full) sync
inline, starts the servers, and then follows each kind with a watch from the
list's resourceVersion; a broken watch relists and records the difference, so
nothing is lost. Every recorded change asks the `CoalescingRunner` for a sync; the
runner folds bursts (at most one sync per `min_sync_interval`) and also syncs
every `sync_period`.

A sync (`sync()`): plan (pure, `ProxyState.plan`), apply the one transaction
(`NftRunner.run`), then on success commit the plan, clear stale UDP conntrack
entries, update the health-check servers and the metrics. On failure the next
sync is a full one, retried after a second. `stop()` stops watches and servers
but leaves the rules: a restarted proxy must not interrupt traffic, and its
first sync replaces the table atomically.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from lightkube import AsyncClient
from lightkube.resources.core_v1 import Node, Service
from lightkube.resources.discovery_v1 import EndpointSlice

from portico.client import CoalescingRunner
from portico.model import core, discovery
from portico.model.vocabulary import WatchEventType
from portico.proxy import collector
from portico.proxy._conntrack import clear
from portico.proxy._health import ProxyServers, ServiceHealthServers
from portico.proxy._metrics import ProxyMetrics
from portico.proxy._state import ProxyState
from portico.proxy.apply import NftCommand, NftError, NftRunner
from portico.proxy.config import ProxyConfig, split_address
from portico.proxy.model import ServiceName, service_ports, slice_info

log = logging.getLogger("portico.proxy")

RETRY_AFTER_FAILURE = 1.0
WATCH_BACKOFF = 0.5


class Proxier:
    def __init__(self, config: ProxyConfig, client: AsyncClient,
                 runner: NftRunner | None = None) -> None:
        self.config = config
        self.client = client
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
        self._node_labels: dict[str, str] | None = None
        self._known: dict[type, dict[Any, Any]] = {Service: {}, EndpointSlice: {}, Node: {}}
        self._tasks: list[asyncio.Task[None]] = []
        self._lock = asyncio.Lock()

    # --- lifecycle ------------------------------------------------------------------

    async def start(self) -> None:
        versions = {kind: await self._relist(kind) for kind in (Service, EndpointSlice, Node)}
        await self.sync()
        await self.servers.start()
        self.runner.start()
        for kind, version in versions.items():
            self._tasks.append(asyncio.create_task(self._follow(kind, version),
                                                   name=f"proxy-watch-{kind.__name__}"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        await self.runner.stop()
        await self.servers.stop()
        await self.health_servers.stop()
        if isinstance(self.nft, NftCommand):
            self.nft.close()

    async def _render_metrics(self) -> str:
        texts = [self.metrics.render()] + [await extra() for extra in self.extra_metrics]
        return "".join(texts)

    # --- tracking (cheap; never renders) ------------------------------------------

    def _record(self, kind: type, obj: Any, deleted: bool) -> None:
        meta = obj.metadata
        key = (meta.namespace, meta.name)
        known = self._known[kind]
        now = time.time()
        if kind is Node:
            if meta.name == self.config.node_name:
                labels = None if deleted else dict(meta.labels or {})
                if labels != self._node_labels:
                    self._node_labels = labels
                    self.state.need_full_sync = True
                    self._queue()
            return
        if kind is Service:
            name = ServiceName(meta.namespace or "default", meta.name)
            svc = None if deleted else core.Service.from_obj(obj.to_dict())
            current = None if svc is None else service_ports(svc) or None
            changed = self.state.service_changes.update(name, known.get(key), current, now)
        else:
            view = None if deleted else discovery.EndpointSlice.from_obj(obj.to_dict())
            current = None if view is None else slice_info(view)
            changed = self.state.slice_changes.update(key, known.get(key), current, now)
        if current is None:
            known.pop(key, None)
        else:
            known[key] = current
        if changed:
            self._queue()

    def _queue(self) -> None:
        self.servers.queued()
        self.runner.run()

    async def _relist(self, kind: type) -> str:
        namespaced = kind is not Node
        listing = self.client.list(kind, namespace="*") if namespaced else self.client.list(kind)
        seen: set[tuple[str | None, str]] = set()
        async for obj in listing:
            seen.add((obj.metadata.namespace, obj.metadata.name))
            self._record(kind, obj, deleted=False)
        for key in list(self._known[kind].keys() - seen):
            self._forget(kind, key)
        return listing.resourceVersion

    def _forget(self, kind: type, key: tuple[str, str]) -> None:
        namespace, name = key
        previous = self._known[kind].pop(key)
        if kind is Service:
            changed = self.state.service_changes.update(
                ServiceName(namespace, name), previous, None, time.time())
        else:
            changed = self.state.slice_changes.update(key, previous, None, time.time())
        if changed:
            self._queue()

    async def _follow(self, kind: type, version: str) -> None:
        namespaced = kind is not Node
        while True:
            try:
                stream = self.client.watch(kind, namespace="*", resource_version=version) \
                    if namespaced else self.client.watch(kind, resource_version=version)
                async for event, obj in stream:
                    self._record(kind, obj, deleted=event == WatchEventType.DELETED)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - relist and watch again
                log.info("watch %s ended (%s); relisting", kind.__name__, exc)
            await asyncio.sleep(WATCH_BACKOFF)
            with contextlib.suppress(Exception):
                version = await self._relist(kind)

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

