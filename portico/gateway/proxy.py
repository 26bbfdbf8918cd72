"""A Gateway's data plane: one pod of `<gateway>-approuting-istio`, HAProxy configured by Python.

Theory of operation: the pod watches what its Gateway's routing depends on
(`sources`), and on any change builds the Gateway's view, the attachments and
the routing table - the same pure functions the controller uses for status -
and hands the table to ingress's `Applier` with the Gateway renderer: endpoint
changes become runtime `set server` commands, a backendRef moved to another
Service of the routes' namespaces or a changed timeout runtime map updates
(`render`), anything else a seamless reload (HAProxy master-worker: the old
worker finishes its connections; no `haproxy -c` first, which parsed every
config twice: the master refuses a config it cannot load and keeps the old
worker); each applied change is logged with the time it took, from the sync's
start until HAProxy serves it, and the pod's counts of runtime updates and
reloads so far.
HAProxy's stats frontend on the status port (15021) answers `/healthz`, which
is the pod's readiness probe. A Gateway that is gone or not of our class
leaves only the status frontend.
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path, PurePosixPath

from portico.client import Api
from portico.gateway import render, sources
from portico.gateway.attach import attachments
from portico.gateway.listeners import gateway_view
from portico.gateway.routing import Table, build_table
from portico.ingress import tls
from portico.ingress.apply import Applier, Outcome
from portico.ingress.haproxy import HAProxyProcess
from portico.ingress.model import Settings

log = logging.getLogger("portico.gateway.proxy")


class GatewayProxy(sources.Watching):
    def __init__(self, client: Api, namespace: str, gateway: str, state_dir: Path,
                 run_dir: Path, status_port: int, haproxy: str = "/usr/sbin/haproxy") -> None:
        crt, key = tls.self_signed()
        self.key = (namespace, gateway)
        self.run_dir = run_dir
        self.settings = Settings(state_dir=PurePosixPath(state_dir),
                                 run_dir=PurePosixPath(run_dir), stats_port=status_port,
                                 default_certificate=crt + key)
        self.haproxy = HAProxyProcess(state_dir / "haproxy.cfg",
                                      Path(self.settings.master_socket),
                                      Path(self.settings.admin_socket), haproxy)
        # no `haproxy -c` before each reload: `checks` leaves out what HAProxy would refuse,
        # and the master parses the config anyway (and keeps the old worker if it cannot)
        self.applier = Applier(self.settings, self.haproxy, render.render_table,
                               precheck=False)
        super().__init__(client, "gateway-proxy", routing_only=True, min_interval=0.005)

    async def stop(self) -> None:
        await super().stop()
        await self.haproxy.stop()
        shutil.rmtree(self.run_dir, ignore_errors=True)

    def table(self) -> Table:
        snapshot = self.sources.snapshot()
        gateway = snapshot.gateways.get(self.key)
        if gateway is None or not snapshot.ours(gateway):
            return Table((), (), ())
        view = gateway_view(snapshot, gateway)
        attached, _ = attachments(snapshot, {self.key: view})
        return build_table(snapshot, view, attached)

    async def sync(self) -> None:
        started = time.perf_counter()
        table = self.table()
        result = await self.applier.apply(table)
        if result.outcome in (Outcome.INVALID, Outcome.FAILED):
            log.error("HAProxy config not applied (%s): %s", result.outcome, result.message)
            self.runner.retry_after(5.0)
        elif result.outcome != Outcome.UNCHANGED:
            log.info("config %s in %.1f ms: %d listeners, %d route matches, %d backends "
                     "(so far %d runtime updates, %d reloads)", result.outcome.value,
                     (time.perf_counter() - started) * 1000, len(table.listeners),
                     len(table.entries), len(table.backends), self.applier.runtime_updates,
                     self.applier.reloads)
