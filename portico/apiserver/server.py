"""Run the API server: open the store, repair allocations, bootstrap, serve HTTPS.

Writes `kubeconfig` into the data directory once the listener is up, and keeps
compacting the watch history in the background. The listeners bound slow and
idle connections and cap each client address (`_connections`).
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import logging
import os
import secrets
import sqlite3
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from aiohttp import web

from portico.apiserver._app import Api, build_app
from portico.apiserver._connections import (
    HEADER_TIMEOUT,
    IDLE_TIMEOUT,
    ClientSlots,
    GuardedSite,
    quiet_accept_errors,
    raise_open_files_limit,
)
from portico.apiserver._node_proxy import KubeletClientConfig, NodeProxy
from portico.apiserver.apiextensions._controller import CrdController
from portico.apiserver.auth import MASTERS, UserInfo
from portico.apiserver.auth.service import Auth
from portico.apiserver.bootstrap import ensure_bootstrap, ensure_rbac
from portico.apiserver.certs import Pki, ensure_pki, issue_client_cert
from portico.apiserver.registry import Registry
from portico.apiserver.registry._objects import decode
from portico.apiserver.registry._write import TxnContext
from portico.apiserver.resources import ALL_RESOURCES
from portico.apiserver.resources._base import ResourceType
from portico.apiserver.resources.services import (
    ServiceConfig,
    kubernetes_service_ip,
    make_services,
    repair_allocations,
)
from portico.store import SqliteStore

log = logging.getLogger("portico.apiserver")
CHECKPOINT_SECONDS = 1.0


@dataclass(frozen=True)
class ApiServerConfig:
    name: str
    data_dir: Path
    port: int = 6443
    bind_address: str = "127.0.0.1"
    advertise_address: str = "10.223.0.1"
    services: ServiceConfig = field(default_factory=ServiceConfig)
    # more addresses to listen on, e.g. the edge link address that pods and agents use
    extra_bind_addresses: tuple[str, ...] = ()
    history_revisions: int = 50_000
    compaction_interval: float = 30.0
    # kube-apiserver's ReadHeaderTimeout: TLS handshake, then the first request header
    header_timeout: float = HEADER_TIMEOUT
    # kube-apiserver's IdleTimeout: a kept-alive connection with no complete request
    idle_timeout: float = IDLE_TIMEOUT


def api_hosts(c: ApiServerConfig) -> list[str]:
    """The names and addresses the serving certificate covers."""
    hosts = ["127.0.0.1", "localhost", "kubernetes", "kubernetes.default",
             "kubernetes.default.svc", "kubernetes.default.svc.cluster.local",
             kubernetes_service_ip(c.services), c.advertise_address]
    if c.bind_address not in ("0.0.0.0", "::", *hosts):
        hosts.append(c.bind_address)
    return hosts


def resources_for(config: ServiceConfig) -> tuple[ResourceType, ...]:
    services = make_services(config)
    return tuple(services if rt.plural == "services" and rt.group == "" else rt
                 for rt in ALL_RESOURCES)


def _token(data_dir: Path, name: str) -> str:
    """A bearer token kept in the PKI directory (`admin`), made once."""
    path = data_dir / "pki" / f"{name}.token"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(32))
    return path.read_text().strip()


def write_kubeconfig(path: Path, name: str, server: str, pki: Pki) -> None:
    def b64(p: Path) -> str:
        return base64.b64encode(p.read_bytes()).decode()

    config = {
        "apiVersion": "v1", "kind": "Config", "preferences": {},
        "clusters": [{"name": name, "cluster": {
            "server": server, "certificate-authority-data": b64(pki.ca_cert)}}],
        "users": [{"name": f"{name}-admin", "user": {
            "client-certificate-data": b64(pki.admin_cert),
            "client-key-data": b64(pki.admin_key)}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": f"{name}-admin"}}],
        "current-context": name,
    }
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        yaml.safe_dump(config, f, sort_keys=False)
    os.replace(tmp, path)


def _repair(store: SqliteStore, registry: Registry, services: ServiceConfig) -> None:
    rt = registry.find("", "v1", "services")
    assert rt is not None
    with store.txn() as txn:
        objs = [decode(kv) for kv in txn.range("/registry/core/services/")]
        fixes = repair_allocations(TxnContext(txn), objs, services)
        for line in fixes:
            log.warning("repair: %s", line)
    log.info("repair: %d services checked, %d allocation records fixed", len(objs), len(fixes))


class ApiServer:
    def __init__(self, config: ApiServerConfig) -> None:
        self.config = config
        config.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = SqliteStore(config.data_dir / "state.db")
        self.registry = Registry(self.store, resources_for(config.services))
        self.crds = CrdController(self.registry)
        self.ready = False
        self._runner: web.AppRunner | None = None
        self._compactor: asyncio.Task[None] | None = None
        self._checkpointer: asyncio.Task[None] | None = None
        self._undo_accept_log: Callable[[], None] | None = None
        self.kubeconfig = config.data_dir / "kubeconfig"
        self.auth: Auth | None = None

    async def start(self) -> None:
        c = self.config
        pki = ensure_pki(c.data_dir / "pki", api_hosts(c))
        _repair(self.store, self.registry, c.services)
        ensure_bootstrap(self.registry, kubernetes_service_ip(c.services),
                         c.advertise_address, c.port)
        self.crds.start()
        ensure_rbac(self.registry)
        self.auth = Auth(self.registry, c.data_dir / "pki",
                         {_token(c.data_dir, "admin"): UserInfo("kubernetes-admin", (MASTERS,))},
                         f"{c.advertise_address}:{c.port}")
        kubelet_client = KubeletClientConfig(
            pki.ca_cert, c.data_dir / "pki" / "kubelet-client.crt",
            c.data_dir / "pki" / "kubelet-client.key")
        issue_client_cert(pki, kubelet_client.client_cert, kubelet_client.client_key,
                          "kube-apiserver-kubelet-client", "system:masters")
        api = Api(self.registry, f"{c.advertise_address}:{c.port}", lambda: self.ready,
                  NodeProxy(self.registry, kubelet_client))
        app = build_app(api, self.auth)
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(pki.serving_cert, pki.serving_key)
        tls.load_verify_locations(pki.ca_cert)
        tls.verify_mode = ssl.CERT_OPTIONAL
        raise_open_files_limit()
        self._undo_accept_log = quiet_accept_errors(asyncio.get_running_loop())
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False,
                                     shutdown_timeout=1.0, keepalive_timeout=c.idle_timeout)
        await self._runner.setup()
        slots = ClientSlots()
        for address in (c.bind_address, *c.extra_bind_addresses):
            await GuardedSite(self._runner, address, c.port, tls, slots,
                              c.header_timeout).start()
        host = c.bind_address if c.bind_address not in ("0.0.0.0", "::") else "127.0.0.1"
        if ipaddress.ip_address(host).version == 6:
            host = f"[{host}]"
        write_kubeconfig(self.kubeconfig, c.name, f"https://{host}:{c.port}", pki)
        self.ready = True
        self._compactor = asyncio.create_task(self._compact_forever())
        self._checkpointer = asyncio.create_task(self._checkpoint_forever())
        log.info("API server serving on https://%s:%d", host, c.port)

    async def _compact_forever(self) -> None:
        while True:
            await asyncio.sleep(self.config.compaction_interval)
            self.store.compact(self.config.history_revisions)

    async def _checkpoint_forever(self) -> None:
        """The store's write-ahead log into the database file, off the event loop (the
        checkpoint's fsync would otherwise stall every request behind some commit)."""
        while True:
            await asyncio.sleep(CHECKPOINT_SECONDS)
            try:
                await asyncio.to_thread(self.store.checkpoint)
            except sqlite3.Error as error:
                log.warning("store checkpoint failed: %s", error)

    async def stop(self) -> None:
        self.ready = False
        for task in (self._compactor, self._checkpointer):
            if task:
                task.cancel()
        await self.crds.stop()
        self.store.hub.close_all()
        if self._runner:
            await self._runner.cleanup()
        if self._undo_accept_log:
            self._undo_accept_log()
        self.store.close()
