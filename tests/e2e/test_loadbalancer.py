"""The cloud load balancer end to end: real nftables, policy routing and probes.

An `LbCloud` (the real topology of a two-node cluster, built from a sandbox netns
that stands for the host, with an HTTP server on each node) is the machine; the
API server runs in this test's event loop and the controller in-process, acting
on the cloud netns through `ip netns exec` and netns-bound sockets. Requests are
sent from the host (sandbox) netns.
"""

from __future__ import annotations

import asyncio
import ipaddress
import subprocess
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from portico.client import Api
from portico.cloud.lb.apply import NetnsRunner
from portico.cloud.lb.build import LbConfig
from portico.cloud.lb.controller import (
    FIELD_MANAGER,
    LOAD_BALANCER,
    ControllerConfig,
    LoadBalancerController,
)
from portico.cloud.lb.probes import NetnsSockets
from portico.model.kinds import EVENT, NODE, SERVICE
from portico.testing.lb_cloud import LbCloud
from tests.api.conftest import start_api

PROBE = {"service.beta.kubernetes.io/azure-load-balancer-health-probe-interval": "1",
         "service.beta.kubernetes.io/azure-load-balancer-health-probe-num-of-probe": "2"}


async def fetch(sockets: NetnsSockets, ip: str, port: int, timeout: float = 1.0) -> str | None:
    """GET / from the host netns; the body (`node-I <client ip>`) or None."""
    try:
        sock = await sockets.connect(ip, port, timeout)
        reader, writer = await asyncio.open_connection(sock=sock)
        writer.write(f"GET / HTTP/1.0\r\nHost: {ip}\r\n\r\n".encode())
        data = await asyncio.wait_for(reader.read(), timeout)
        writer.close()
        return data.split(b"\r\n\r\n", 1)[1].decode()
    except (OSError, TimeoutError, IndexError):
        return None


async def until(check: Callable[[], Any], timeout: float = 10.0, what: str = "") -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await check()
        if value:
            return value
        if loop.time() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def service(name: str, port: int, node_port: int, annotations: dict[str, str] | None = None,
            **spec: Any) -> dict[str, Any]:
    return ({
        "metadata": {"name": name, "namespace": "default",
                     "annotations": {**PROBE, **(annotations or {})}},
        "spec": {"type": "LoadBalancer", "selector": {"app": name},
                 "ports": [{"port": port, "nodePort": node_port, "protocol": "TCP"}], **spec}})


def node(cloud: LbCloud, i: int) -> dict[str, Any]:
    return ({
        "metadata": {"name": f"node-{i}"},
        "status": {"addresses": [{"type": "InternalIP", "address": cloud.node_ip(i)}],
                   "conditions": [{"type": "Ready", "status": "True"}]}})


class Env:
    def __init__(self, cloud: LbCloud, client: Api, host: NetnsSockets) -> None:
        self.cloud = cloud
        self.client = client
        self.host = host

    async def ingress_ip(self, name: str) -> str:
        async def check() -> str | None:
            svc = await self.client.get(SERVICE, name, namespace="default")
            ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
            return str(ingress[0]["ip"]) if ingress else None
        return str(await until(check, what=f"{name} to get an EXTERNAL-IP"))

    async def answers(self, ip: str, port: int, count: int = 12) -> set[str]:
        bodies = await asyncio.gather(*(fetch(self.host, ip, port) for _ in range(count)))
        return {b.split()[0] if b else "none" for b in bodies}

    def nft(self) -> str:
        return subprocess.run(["ip", "netns", "exec", self.cloud.cloud, "nft", "list", "table",
                               "inet", "portico-lb"], capture_output=True, text=True).stdout


@pytest.fixture
async def env(tmp_path, request: pytest.FixtureRequest) -> AsyncIterator[Env]:
    pool = ipaddress.IPv4Network(getattr(request, "param", "198.51.100.0/24"))
    with LbCloud(nodes=2) as cloud:
        servers = [cloud.serve(i, 80, 8080, *range(30080, 30086)) for i in (1, 2)]
        server, api = await start_api(tmp_path)
        client = Api.connect(server.kubeconfig, FIELD_MANAGER)
        cloud_sockets, host = NetnsSockets(cloud.cloud), NetnsSockets(cloud.host)
        config = ControllerConfig(lb=LbConfig("lbt", public_pool=pool, min_probe_interval=1),
                                  probe_timeout=0.5)

        def make() -> LoadBalancerController:
            return LoadBalancerController(client, NetnsRunner(cloud.cloud), cloud_sockets, config)
        environment = Env(cloud, client, host)
        environment.servers = servers  # type: ignore[attr-defined]
        environment.controllers = [make(), make]  # type: ignore[attr-defined]
        try:
            for i in (1, 2):
                await client.create(NODE, node(cloud, i))
            await environment.controllers[0].start()  # type: ignore[attr-defined]
            yield environment
        finally:  # bounded, so a stuck stop fails the test instead of leaking the netns
            await asyncio.wait_for(environment.controllers[0].stop(), 10)  # type: ignore[attr-defined]
            await asyncio.wait_for(client.close(), 10)
            await api.session.close()
            await asyncio.wait_for(server.stop(), 20)
            cloud_sockets.close()
            host.close()


async def test_public_service_is_reachable_and_fails_over(env: Env) -> None:
    await env.client.create(SERVICE, service("web", 80, 30080))
    ip = await env.ingress_ip("web")
    assert ip == "198.51.100.1"
    seen = await until(lambda: env.answers(ip, 80, 20), what="answers from both nodes")
    await until(lambda: _both(env, ip), what="both nodes in rotation")
    body = await fetch(env.host, ip, 80)
    assert body is not None and body.split()[1] == "10.223.0.1"  # no SNAT in the cloud
    assert seen
    env.cloud.stop(env.servers[1])  # type: ignore[attr-defined]
    loop = asyncio.get_running_loop()
    started = loop.time()

    async def only_node1() -> bool:
        return await env.answers(ip, 80) == {"node-1"}
    await until(only_node1, timeout=6, what="node-2 to leave rotation")
    assert loop.time() - started < 4.0  # interval 1 s x 2 probes, plus a probe timeout

    async def health_recorded() -> bool:
        lb = await env.client.get(LOAD_BALANCER, "lbt")
        health = {(h["node"], h["state"]) for h in lb["status"]["backendHealth"]}
        return health == {("node-1", "Up"), ("node-2", "Down")}
    await until(health_recorded, what="status.backendHealth to show node-2 Down")
    reasons = [e["reason"] for e in (await env.client.list(EVENT, "default")).items]
    assert "EnsuringLoadBalancer" in reasons and "EnsuredLoadBalancer" in reasons


async def _both(env: Env, ip: str) -> bool:
    return await env.answers(ip, 80, 24) == {"node-1", "node-2"}


async def test_internal_source_ranges_floating_off_and_delete(env: Env) -> None:
    internal = "service.beta.kubernetes.io/azure-load-balancer-internal"
    await env.client.create(SERVICE, service("int", 80, 30080, {internal: "true"}))
    assert await env.ingress_ip("int") == "10.224.255.254"
    await until(lambda: env.answers("10.224.255.254", 80), what="internal frontend answers")
    await env.client.create(SERVICE, service("closed", 80, 30081, loadBalancerSourceRanges=[
        "192.0.2.0/24"]))
    await env.client.create(SERVICE, service("open", 8080, 30082, loadBalancerSourceRanges=[
        "10.223.0.0/30"]))
    closed, opened = await env.ingress_ip("closed"), await env.ingress_ip("open")
    assert {closed, opened} == {"198.51.100.1", "198.51.100.2"}
    await until(lambda: env.answers(opened, 8080, 4), what="allowed source answers")
    assert await env.answers(closed, 80, 4) == {"none"}
    nofloat = {"service.beta.kubernetes.io/azure-disable-load-balancer-floating-ip": "true"}
    await env.client.create(SERVICE, service("nf", 9999, 30083, nofloat))
    nf = await env.ingress_ip("nf")
    answers = await until(lambda: env.answers(nf, 9999), what="DNAT to nodeIP:nodePort")
    assert answers <= {"node-1", "node-2"}
    await env.client.delete(SERVICE, "open", namespace="default")

    async def gone() -> bool:
        names = [s["metadata"]["name"]
                 for s in (await env.client.list(SERVICE, "default")).items]
        return "open" not in names and opened not in env.nft()
    await until(gone, what="the deleted Service's rules and finalizer to go")
    await env.client.create(SERVICE, service("again", 7000, 30084))
    assert await env.ingress_ip("again") == opened  # the freed address is reused


async def _events(env: Env, name: str) -> list[tuple[str, str, str]]:
    return [(e["type"], e["reason"], e["message"])
            for e in (await env.client.list(EVENT, "default")).items
            if e["involvedObject"]["name"] == name]


@pytest.mark.parametrize("env", ["198.51.100.0/30"], indirect=True)
async def test_sharing_conflicts_exhaustion_and_finalizer(env: Env) -> None:
    ipv4 = "service.beta.kubernetes.io/azure-load-balancer-ipv4"
    await env.client.create(SERVICE, service("a", 80, 30080, {ipv4: "198.51.100.1"}))
    await env.client.create(SERVICE, service("b", 8080, 30081, {ipv4: "198.51.100.1"}))
    assert (await env.ingress_ip("a"), await env.ingress_ip("b")) == ("198.51.100.1",) * 2
    await until(lambda: env.answers("198.51.100.1", 8080, 4), what="shared address, 2nd port")
    svc = await env.client.get(SERVICE, "a", namespace="default")
    assert svc["metadata"]["finalizers"] == ["service.kubernetes.io/load-balancer-cleanup"]
    await env.client.create(SERVICE, service("c", 80, 30082, {ipv4: "198.51.100.1"}))
    failed = ("Warning", "SyncLoadBalancerFailed",
              "Error syncing load balancer: failed to ensure load balancer: cannot use requested"
              " IP: port TCP/80 of 198.51.100.1 is already in use by service default/a")

    async def conflict_reported() -> bool:
        return failed in await _events(env, "c")
    await until(conflict_reported, what="the port conflict warning")
    for name, port in (("d", 30083), ("e", 30084)):
        await env.client.create(SERVICE, service(name, 80, port))
    assert {await env.ingress_ip("d"), await env.ingress_ip("e")} == {"198.51.100.2",
                                                                       "198.51.100.3"}
    await env.client.create(SERVICE, service("f", 80, 30085))
    exhausted = ("Warning", "SyncLoadBalancerFailed", "Error syncing load balancer: failed to "
                 "ensure load balancer: no available IPs in public pool 198.51.100.0/30")

    async def exhaustion_reported() -> bool:
        return exhausted in await _events(env, "f")
    await until(exhaustion_reported, what="the exhausted pool warning")
    freed = await env.ingress_ip("d")
    await env.client.delete(SERVICE, "d", namespace="default")
    assert await env.ingress_ip("f") == freed

    async def lifecycle_recorded() -> bool:
        return sorted(r for _, r, _ in await _events(env, "d")) == [
            "DeletedLoadBalancer", "DeletingLoadBalancer", "EnsuredLoadBalancer",
            "EnsuringLoadBalancer"]
    await until(lifecycle_recorded, what="the events of d's whole life")


async def test_restart_keeps_addresses_and_traffic(env: Env) -> None:
    await env.client.create(SERVICE, service("first", 80, 30080))
    await env.client.create(SERVICE, service("second", 8080, 30081))
    before = (await env.ingress_ip("first"), await env.ingress_ip("second"))
    await until(lambda: env.answers(before[0], 80, 4), what="first answers")
    old, make = env.controllers  # type: ignore[attr-defined]
    await asyncio.wait_for(old.stop(), 10)
    await env.client.delete(SERVICE, "first", namespace="default")  # while nobody watches
    assert await env.answers(before[1], 8080, 4) != {"none"}  # the data plane stays
    new = make()
    env.controllers[0] = new  # type: ignore[attr-defined]
    await asyncio.wait_for(new.start(), 10)
    await env.client.create(SERVICE, service("third", 9000, 30082))
    assert await env.ingress_ip("third") == before[0]  # freed by the deletion, reused
    assert await env.ingress_ip("second") == before[1]
    await until(lambda: env.answers(before[1], 8080, 4), what="second still answers")
