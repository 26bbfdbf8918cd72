"""The controller's own HTTP endpoints and metrics (port --healthz-port, default 10255).

`/healthz`: 200 while HAProxy's master runs (liveness). `/ready`: 200 once the
first config is serving (readiness). `/metrics`: Prometheus text with the
controller's counters; HAProxy's own metrics are on its stats frontend
(`:10254/metrics`, the built-in prometheus-exporter).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web


@dataclass
class Metrics:
    syncs: dict[str, int] = field(default_factory=dict)     # by outcome
    sync_seconds_sum: float = 0.0
    sync_seconds_count: int = 0
    sync_seconds_max: float = 0.0
    reloads: int = 0
    failed_reloads: int = 0
    runtime_updates: int = 0
    leader: bool = False
    warnings: int = 0

    def observe(self, outcome: str, seconds: float) -> None:
        self.syncs[outcome] = self.syncs.get(outcome, 0) + 1
        self.sync_seconds_sum += seconds
        self.sync_seconds_count += 1
        self.sync_seconds_max = max(self.sync_seconds_max, seconds)

    def render(self) -> str:
        p = "portico_ingress_"
        lines = [f"# HELP {p}syncs_total Syncs by outcome (unchanged, runtime, reloaded, ...).",
                 f"# TYPE {p}syncs_total counter"]
        lines += [f'{p}syncs_total{{outcome="{k}"}} {v}' for k, v in sorted(self.syncs.items())]
        lines += [f"# HELP {p}sync_duration_seconds Time from snapshot to HAProxy serving it.",
                  f"# TYPE {p}sync_duration_seconds summary",
                  f"{p}sync_duration_seconds_sum {self.sync_seconds_sum:.6f}",
                  f"{p}sync_duration_seconds_count {self.sync_seconds_count}",
                  f"# TYPE {p}sync_duration_seconds_max gauge",
                  f"{p}sync_duration_seconds_max {self.sync_seconds_max:.6f}"]
        for name, value, help_ in (
                ("reloads_total", self.reloads, "HAProxy reloads."),
                ("reload_failures_total", self.failed_reloads, "Reloads that failed."),
                ("runtime_updates_total", self.runtime_updates,
                 "Changes applied through the runtime API without a reload."),
                ("warnings_total", self.warnings, "Warning events recorded.")):
            lines += [f"# HELP {p}{name} {help_}", f"# TYPE {p}{name} counter",
                      f"{p}{name} {value}"]
        lines += [f"# TYPE {p}leader gauge", f"{p}leader {int(self.leader)}"]
        return "\n".join(lines) + "\n"


class HealthServer:
    def __init__(self, alive: Callable[[], bool], ready: Callable[[], bool],
                 metrics: Metrics) -> None:
        self.alive, self.ready, self.metrics = alive, ready, metrics
        self.runner: web.AppRunner | None = None

    async def start(self, host: str, port: int) -> None:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/ready", self._ready)
        app.router.add_get("/metrics", self._metrics)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, host or None, port).start()

    async def _healthz(self, _: web.Request) -> web.Response:
        return web.Response(text="ok" if self.alive() else "haproxy down",
                            status=200 if self.alive() else 503)

    async def _ready(self, _: web.Request) -> web.Response:
        return web.Response(text="ok" if self.ready() else "not ready",
                            status=200 if self.ready() else 503)

    async def _metrics(self, _: web.Request) -> web.Response:
        return web.Response(text=self.metrics.render(),
                            content_type="text/plain", charset="utf-8")

    async def stop(self) -> None:
        if self.runner:
            await self.runner.cleanup()
