"""Wiring: Api -> informers -> Watcher -> DnsServer (UDP/TCP) + HTTP endpoints, started together.

`DnsApp(config)` is what `python -m portico.dns` runs and what tests run in
process. It connects to the API with `--kubeconfig` when given, otherwise with
the standard in-cluster settings (KUBERNETES_SERVICE_HOST/PORT and the
service-account directory). Until the first lists have synced, the server
holds an empty, unsynced view: cluster names then get SERVFAIL (as CoreDNS
before HasSynced) while names outside the zone are already forwarded.
"""

from __future__ import annotations

import logging

from portico.client import Api, InformerFactory
from portico.dns._config import Config
from portico.dns._http import HttpEndpoints
from portico.dns._metrics import Metrics
from portico.dns._server import DnsServer
from portico.dns._view import DnsView
from portico.dns._watch import Watcher

log = logging.getLogger("portico.dns")
FIELD_MANAGER = "portico-dns"


def server_label(listen: tuple[str, int]) -> str:
    """CoreDNS's `server` label: dns://:53 for all addresses, dns://host:port otherwise."""
    host, port = listen
    return f"dns://:{port}" if host in ("0.0.0.0", "::", "") else f"dns://{host}:{port}"


class DnsApp:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.metrics = Metrics(server=server_label(config.listen))
        self.server = DnsServer(DnsView(zone=config.zone, ttl=config.ttl, synced=False),
                                config.upstreams, self.metrics)
        self.api: Api | None = None
        self.informers: InformerFactory | None = None
        self.watcher: Watcher | None = None
        self.http: HttpEndpoints | None = None
        self.port = 0

    async def start(self) -> int:
        """Start everything; returns the DNS port (useful when listening on port 0)."""
        self.api = Api.connect(self.config.kubeconfig, FIELD_MANAGER,
                               self.config.serviceaccount_dir)
        self.informers = InformerFactory(self.api)
        self.watcher = Watcher(self.informers, self.server.set_view, self.config.zone,
                               self.config.ttl)
        self.port = await self.server.start(*self.config.listen)
        self.metrics.server = server_label((self.config.listen[0], self.port))
        self.http = HttpEndpoints(self.watcher.ready, self.metrics.render)
        await self.http.start(self.config.health, self.config.ready, self.config.metrics)
        self.watcher.start()
        log.info("cluster DNS for %s on %s:%d, upstreams %s", self.config.zone,
                 self.config.listen[0], self.port,
                 ",".join(str(u) for u in self.config.upstreams) or "none")
        return self.port

    async def stop(self) -> None:
        if self.watcher:
            await self.watcher.stop()
        if self.informers:
            await self.informers.stop()
        if self.http:
            await self.http.stop()
        await self.server.stop()
        if self.api:
            await self.api.close()
