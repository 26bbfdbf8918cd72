"""The HTTP side of the DNS pod: /health (liveness), /ready (readiness), /metrics.

As in CoreDNS, /health answers 200 as long as the process serves, /ready
answers 200 once the first list of every watched kind has synced (503 before),
and /metrics is the Prometheus text. Each endpoint is served on its own
configured address; endpoints configured on the same address share one site.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiohttp import web

from portico.dns._config import HostPort

TEXT = "text/plain"
METRICS_TYPE = "text/plain; version=0.0.4"


class HttpEndpoints:
    def __init__(self, ready: asyncio.Event, metrics: Callable[[], str]) -> None:
        self.ready = ready
        self.metrics = metrics
        self._runners: list[web.AppRunner] = []

    async def _health(self, _request: web.Request) -> web.Response:
        return web.Response(text="OK", content_type=TEXT)

    async def _ready(self, _request: web.Request) -> web.Response:
        if self.ready.is_set():
            return web.Response(text="OK", content_type=TEXT)
        return web.Response(status=503, text="not synced", content_type=TEXT)

    async def _metrics(self, _request: web.Request) -> web.Response:
        return web.Response(body=self.metrics().encode(), headers={"Content-Type": METRICS_TYPE})

    async def start(self, health: HostPort | None, ready: HostPort | None,
                    metrics: HostPort | None) -> None:
        routes: dict[HostPort, list[web.RouteDef]] = {}
        for address, route in ((health, web.get("/health", self._health)),
                               (ready, web.get("/ready", self._ready)),
                               (metrics, web.get("/metrics", self._metrics))):
            if address is not None:
                routes.setdefault(address, []).append(route)
        for (host, port), defs in routes.items():
            app = web.Application()
            app.add_routes(defs)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            await web.TCPSite(runner, host, port, reuse_address=True).start()
            self._runners.append(runner)

    async def stop(self) -> None:
        for runner in self._runners:
            await runner.cleanup()
