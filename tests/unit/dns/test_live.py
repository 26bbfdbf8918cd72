"""Against the real API server in process: a new Service resolves within 100 ms; /ready, /metrics.

The DNS app watches the API through portico.client (admin kubeconfig), serves UDP/TCP
on 127.0.0.1 with a free port and its HTTP endpoints on free loopback ports.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import dns.asyncquery
import dns.message
import dns.rcode
import pytest

from portico.addons import load
from portico.dns import DnsApp, parse_config
from tests.api.conftest import Api, free_port, start_api

LOCAL = "127.0.0.1"


async def _poll(check, timeout: float) -> float:
    """Call `check()` until it returns True; the seconds it took (fails after `timeout`)."""
    started = time.monotonic()
    while not await check():
        assert time.monotonic() - started < timeout, "condition not met in time"
        await asyncio.sleep(0.005)
    return time.monotonic() - started


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[tuple[Api, DnsApp, dict[str, int]]]:
    server, api = await start_api(tmp_path)
    ports = {"health": free_port(), "ready": free_port(), "metrics": free_port()}
    config = parse_config(["--listen", f"{LOCAL}:0", "--upstream", f"{LOCAL}:1",
                           "--kubeconfig", str(server.kubeconfig),
                           *[f"--{k}={LOCAL}:{v}" for k, v in ports.items()]], {}, "")
    app = DnsApp(config)
    await app.start()
    try:
        yield api, app, ports
    finally:
        await app.stop()
        await api.session.close()
        await server.stop()


async def _resolve(app: DnsApp, name: str, rdtype: str = "A") -> dns.message.Message:
    return await dns.asyncquery.udp(dns.message.make_query(name, rdtype), LOCAL, port=app.port,
                                    timeout=2)


async def _get(port: int, path: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, \
            session.get(f"http://{LOCAL}:{port}{path}") as resp:
        return resp.status, await resp.text()


async def test_new_service_resolves_within_100ms(cluster) -> None:
    api, app, ports = cluster
    assert app.watcher is not None
    await asyncio.wait_for(app.watcher.ready.wait(), 10)
    assert await _get(ports["ready"], "/ready") == (200, "OK")
    assert await _get(ports["health"], "/health") == (200, "OK")
    before = await _resolve(app, "kubernetes.default.svc.cluster.local")
    assert before.answer[0].to_text() == "kubernetes.default.svc.cluster.local. 5 IN A 10.0.0.1"
    assert (await _resolve(app, "web.default.svc.cluster.local")).rcode() == dns.rcode.NXDOMAIN

    reply = await api.post("/api/v1/namespaces/default/services",
                           {"metadata": {"name": "web"},
                            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}})
    assert reply.status == 201
    cluster_ip = reply.body["spec"]["clusterIP"]

    async def resolves() -> bool:
        answer = await _resolve(app, "web.default.svc.cluster.local")
        return bool(answer.answer) and answer.answer[0][0].address == cluster_ip

    assert await _poll(resolves, timeout=0.1) < 0.1
    assert (await api.delete("/api/v1/namespaces/default/services/web")).status == 200

    async def gone() -> bool:
        return (await _resolve(app, "web.default.svc.cluster.local")).rcode() == dns.rcode.NXDOMAIN

    await _poll(gone, timeout=1.0)
    status, text = await _get(ports["metrics"], "/metrics")
    assert status == 200
    assert f'coredns_dns_requests_total{{server="dns://{LOCAL}:{app.port}",zone=".",proto="udp",' \
           'family="1",type="A"}' in text


async def test_servfail_outside_the_zone_with_closed_upstream(cluster) -> None:
    _api, app, _ports = cluster
    started = time.monotonic()
    reply = await _resolve(app, "example.com")
    assert (reply.rcode(), time.monotonic() - started < 1.0) == (dns.rcode.SERVFAIL, True)


async def test_coredns_addon_is_accepted_by_the_api(cluster) -> None:
    api, app, _ports = cluster
    paths = {"ServiceAccount": "/api/v1/namespaces/kube-system/serviceaccounts",
             "Deployment": "/apis/apps/v1/namespaces/kube-system/deployments",
             "Service": "/api/v1/namespaces/kube-system/services",
             "ClusterRole": "/apis/rbac.authorization.k8s.io/v1/clusterroles",
             "ClusterRoleBinding": "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings"}
    docs = load("coredns")
    assert [d["kind"] for d in docs] == ["ServiceAccount", "ClusterRole", "ClusterRoleBinding",
                                         "Deployment", "Service"]
    for doc in docs:
        reply = await api.post(paths[doc["kind"]], doc)
        assert reply.status == 201, reply.body

    async def ns_dns() -> bool:
        answer = await _resolve(app, "ns.dns.cluster.local")
        return [r.to_text() for r in answer.answer] == ["ns.dns.cluster.local. 5 IN A 10.0.0.10"]

    await _poll(ns_dns, timeout=1.0)
    dns_svc = await _resolve(app, "kube-dns.kube-system.svc.cluster.local")
    assert dns_svc.answer[0].to_text() == "kube-dns.kube-system.svc.cluster.local. 5 IN A 10.0.0.10"


async def test_in_cluster_service_account_settings(tmp_path: Path, monkeypatch) -> None:
    """KUBERNETES_SERVICE_HOST/PORT plus PORTICO_SERVICEACCOUNT_DIR (token, ca.crt, namespace):
    a token of `kube-system/kube-dns`, which the default policy lets read what DNS needs."""
    server, api = await start_api(tmp_path)
    pki = server.config.data_dir / "pki"
    account = tmp_path / "serviceaccount"
    account.mkdir()
    sa_path = "/api/v1/namespaces/kube-system/serviceaccounts"
    assert (await api.post(sa_path, {"metadata": {"name": "kube-dns"}})).status == 201
    minted = await api.post(f"{sa_path}/kube-dns/token", {"spec": {}})
    (account / "token").write_text(minted.body["status"]["token"])
    (account / "ca.crt").write_bytes((pki / "ca.crt").read_bytes())
    (account / "namespace").write_text("kube-system")
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", LOCAL)
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(server.config.port))
    environ = {"PORTICO_SERVICEACCOUNT_DIR": str(account)}
    app = DnsApp(parse_config(["--listen", f"{LOCAL}:0", "--metrics=", "--health=", "--ready="],
                              environ, ""))
    await app.start()
    try:
        assert app.watcher is not None
        await asyncio.wait_for(app.watcher.ready.wait(), 10)
        reply = await _resolve(app, "kubernetes.default.svc.cluster.local")
        assert [r.to_text() for r in reply.answer] == [
            "kubernetes.default.svc.cluster.local. 5 IN A 10.0.0.1"]
    finally:
        await app.stop()
        await api.session.close()
        await server.stop()
