"""The Proxier against the real API server (in-process, loopback), applying to a FakeNft."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import pytest
from proxy_builders import CONFIG, endpoint, endpoint_slice, port, service

from portico.client import Api, InformerFactory
from portico.model.kinds import ENDPOINT_SLICE, SERVICE
from portico.proxy import Proxier
from portico.proxy.nftables import Transaction
from portico.testing.nft import FakeNft
from tests.api.conftest import start_api


async def until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


@pytest.fixture
async def cluster(tmp_path) -> AsyncIterator[tuple[Api, Proxier, FakeNft]]:
    server, api = await start_api(tmp_path)
    client = Api.connect(server.kubeconfig, "test")
    informers = InformerFactory(client)
    nft = FakeNft()
    proxier = Proxier(CONFIG, informers, nft)
    try:
        yield client, proxier, nft
    finally:
        await proxier.stop()
        await informers.stop()
        await client.close()
        await api.session.close()
        await server.stop()


async def test_full_sync_at_start_then_partial_syncs(cluster) -> None:
    client, proxier, nft = cluster
    svc = await client.create(SERVICE, service("default", "web", "", [port(80)]))
    await proxier.start()
    assert nft.transactions == 1
    assert nft.last_transaction.script().startswith("add table inet portico-proxy\ndelete table")
    cluster_ip = svc["spec"]["clusterIP"]
    assert f"no-endpoint-services {{ {cluster_ip} . tcp . 80" in nft.dump()

    await client.create(ENDPOINT_SLICE,
                        endpoint_slice("default", "web", [endpoint("10.244.1.5")], [port(8080)]))
    await until(lambda: f"service-ips {{ {cluster_ip} . tcp . 80" in nft.dump())
    script = nft.last_transaction.script()
    assert "delete table" not in script
    assert f"backends {{ {cluster_ip} . tcp . 80 . 0 : 10.244.1.5 . 8080 }}" in script

    await client.delete(SERVICE, "web", namespace="default")
    await until(lambda: cluster_ip not in nft.dump())
    metrics = proxier.metrics.render()
    assert 'kubeproxy_sync_proxy_rules_total{type="full",result="success"} 1' in metrics
    assert proxier.metrics.programming.count >= 1


async def test_failed_apply_retries_with_a_full_sync(cluster) -> None:
    client, proxier, nft = cluster
    await proxier.start()
    nft.fail_next = "simulated nft failure"
    await client.create(SERVICE, service("default", "api", "", [port(443, "https")]))
    await until(lambda: "default/api/tcp/https" in nft.dump() or "api:https" in nft.dump(),
                timeout=5)
    assert nft.last_transaction.script().startswith("add table inet portico-proxy\ndelete table")
    assert 'result="failure"} 1' in proxier.metrics.render()


class HeldNft:
    """Applies to `nft`, but holds each transaction while closed: a sync stuck applying."""

    def __init__(self, nft: FakeNft) -> None:
        self.nft = nft
        self.scripts: list[str] = []
        self.waiting = False
        self._open = asyncio.Event()
        self._open.set()

    def close(self) -> None:
        self._open.clear()

    def open(self) -> None:
        self._open.set()

    async def run(self, tx: Transaction) -> None:
        self.waiting = True
        await self._open.wait()
        self.waiting = False
        self.scripts.append(tx.script())
        await self.nft.run(tx)


async def test_watch_events_that_cancel_out_are_gone_before_the_next_sync(cluster) -> None:
    client, proxier, nft = cluster
    held = HeldNft(nft)
    proxier.nft = held
    await client.create(SERVICE, service("default", "web", "", [port(80)]))
    await proxier.start()
    held.close()
    await client.create(ENDPOINT_SLICE, endpoint_slice("default", "web", [endpoint("10.244.1.5")],
                                                       [port(80)], "held"))
    await until(lambda: held.waiting)  # that sync is applying: what follows is only tracked
    ghost = endpoint_slice("default", "web", [endpoint("10.244.1.9")], [port(80)], "ghost")
    await client.create(ENDPOINT_SLICE, ghost)
    await client.delete(ENDPOINT_SLICE, ghost["metadata"]["name"], namespace="default")
    await client.create(ENDPOINT_SLICE, endpoint_slice("default", "web", [endpoint("10.244.1.7")],
                                                       [port(80)], "marker"))
    # the marker's event follows the ghost's deletion on the same watch
    await until(lambda: ("default", "web-marker") in proxier.state.slice_changes)
    assert ("default", "web-ghost") not in proxier.state.slice_changes
    held.open()
    await until(lambda: "10.244.1.7" in nft.dump())
    assert not any("10.244.1.9" in script for script in held.scripts)
