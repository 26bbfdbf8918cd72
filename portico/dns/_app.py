"""Wiring: API client -> Watcher -> DnsServer (UDP/TCP) + HTTP endpoints, started together.

`DnsApp(config)` is what `python -m portico.dns` runs and what tests run in
process. It connects to the API with `--kubeconfig` when given, otherwise with
the standard in-cluster settings (KUBERNETES_SERVICE_HOST/PORT and the
service-account directory). Until the first lists have synced, the server
holds an empty, unsynced view: cluster names then get SERVFAIL (as CoreDNS
before HasSynced) while names outside the zone are already forwarded.
"""

from __future__ import annotations

import logging

from lightkube import AsyncClient, KubeConfig

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
        self.client: AsyncClient | None = None
        self.watcher: Watcher | None = None
        self.http: HttpEndpoints | None = None
        self.port = 0

    def _kubeconfig(self) -> KubeConfig:
        if self.config.kubeconfig is not None:
            return KubeConfig.from_file(str(self.config.kubeconfig))
        return KubeConfig.from_service_account(self.config.serviceaccount_dir)

    async def start(self) -> int:
        """Start everything; returns the DNS port (useful when listening on port 0)."""
        self.client = AsyncClient(config=self._kubeconfig(), field_manager=FIELD_MANAGER)
        self.watcher = Watcher(self.client, self.server.set_view, self.config.zone, self.config.ttl)
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
        if self.http:
            await self.http.stop()
        await self.server.stop()
        if self.client:
            await self.client.close()
