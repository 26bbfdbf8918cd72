"""HTTP servers of the proxy: service health checks, proxy healthz, metrics.

- One server per `healthCheckNodePort` of a `externalTrafficPolicy: Local`
  LoadBalancer Service, on the node IP, as kube-proxy's healthcheck server:
  any path answers 200 with `{"service": {"namespace", "name"}, "localEndpoints":
  N, "serviceProxyHealthy": true}` when this node has N > 0 ready endpoints of the
  Service, else 503. The cloud load balancer probes it to pick nodes.
- `0.0.0.0:10256/healthz` (kube-proxy's healthz): 200 while the last queued
  change has been synced within `2 * sync_period`, else 503.
- `127.0.0.1:10249`: `/metrics` (Prometheus text) and `/healthz`; the node's
  loopback only, where kube-proxy binds them (no authentication on either).

Listeners are created by `bind_socket`, so they can live in the node's netns
while this process runs elsewhere (see `_netns.py`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from aiohttp import web
from aiohttp.web_request import BaseRequest

from portico.proxy._followups import ServiceHealth
from portico.proxy._netns import bind_socket

log = logging.getLogger("portico.proxy.health")
Handler = Callable[[BaseRequest], Awaitable[web.StreamResponse]]


class _Listener:
    def __init__(self, server: asyncio.AbstractServer) -> None:
        self.server = server

    @classmethod
    async def start(cls, host: str, port: int, netns: str | None, handler: Handler) -> _Listener:
        sock = bind_socket(host, port, netns)
        loop = asyncio.get_running_loop()
        server = await loop.create_server(web.Server(handler), sock=sock)
        return cls(server)

    async def stop(self) -> None:
        self.server.close()
        await self.server.wait_closed()


def _json(status: int, body: object) -> web.Response:
    return web.Response(status=status, text=json.dumps(body), content_type="application/json",
                        headers={"X-Content-Type-Options": "nosniff"})


class ServiceHealthServers:
    """Keeps one listener per healthCheckNodePort, answering from `self.health`."""

    def __init__(self, host: str, netns: str | None) -> None:
        self.host, self.netns = host, netns
        self.health: dict[int, ServiceHealth] = {}
        self._listeners: dict[int, _Listener] = {}

    async def sync(self, wanted: dict[int, ServiceHealth]) -> None:
        self.health = dict(wanted)
        for port in list(self._listeners.keys() - wanted.keys()):
            await self._listeners.pop(port).stop()
        for port in wanted.keys() - self._listeners.keys():
            try:
                self._listeners[port] = await _Listener.start(
                    self.host, port, self.netns, self._handler(port))
            except OSError as exc:
                log.error("cannot serve health check port %s: %s", port, exc)

    def _handler(self, port: int) -> Handler:
        async def handle(_request: BaseRequest) -> web.StreamResponse:
            health = self.health.get(port)
            if health is None:
                return web.Response(status=404)
            body = {"service": {"namespace": health.service.namespace,
                                "name": health.service.name},
                    "localEndpoints": health.local_endpoints, "serviceProxyHealthy": True}
            return _json(200 if health.local_endpoints > 0 else 503, body)
        return handle

    async def stop(self) -> None:
        await self.sync({})


class ProxyServers:
    """kube-proxy's healthz (:10256) and metrics (:10249) servers."""

    def __init__(self, healthz: tuple[str, int] | None, metrics: tuple[str, int] | None,
                 netns: str | None, render_metrics: Callable[[], Awaitable[str]],
                 sync_period: float
                 ) -> None:
        self._healthz, self._metrics, self._netns = healthz, metrics, netns
        self._render = render_metrics
        self._period = sync_period
        self._listeners: list[_Listener] = []
        self.last_queued: float | None = None
        self.last_updated: float = time.time()

    def queued(self) -> None:
        if self.last_queued is None:
            self.last_queued = time.time()

    def updated(self) -> None:
        self.last_updated = time.time()
        self.last_queued = None

    def healthy(self) -> bool:
        return self.last_queued is None or time.time() - self.last_queued < 2 * self._period

    async def start(self) -> None:
        if self._healthz:
            self._listeners.append(await _Listener.start(*self._healthz, self._netns,
                                                         self._handle_healthz))
        if self._metrics:
            self._listeners.append(await _Listener.start(*self._metrics, self._netns,
                                                         self._handle_metrics))

    async def stop(self) -> None:
        for listener in self._listeners:
            await listener.stop()
        self._listeners = []

    async def _handle_healthz(self, _request: BaseRequest) -> web.StreamResponse:
        now = datetime.now(UTC)
        body = {"lastUpdated": datetime.fromtimestamp(self.last_updated, UTC).isoformat(),
                "currentTime": now.isoformat(), "nodeEligible": True}
        return _json(200 if self.healthy() else 503, body)

    async def _handle_metrics(self, request: BaseRequest) -> web.StreamResponse:
        if request.path == "/metrics":
            return web.Response(text=await self._render(), content_type="text/plain",
                                charset="utf-8")
        if request.path in ("/healthz", "/livez"):
            return await self._handle_healthz(request)
        return web.Response(status=404)
