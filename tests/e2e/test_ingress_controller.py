"""The controller against a real API server (in process) and a real HAProxy in a throwaway netns.

Checks the level-triggered loop end to end without a cluster: objects created
through the API become routes HAProxy serves; the leader writes the
controller Service's EXTERNAL-IP into the Ingress status (and removes it when the
Ingress leaves the class); an unsupported annotation becomes a Warning Event;
an endpoint change is served without a reload.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from portico.client import Api
from portico.ingress._config import parse_config
from portico.ingress._controller import IngressController
from portico.model.kinds import (
    ENDPOINT_SLICE,
    EVENT,
    INGRESS,
    INGRESS_CLASS,
    NAMESPACE,
    SERVICE,
    builtin_kind,
)
from tests.api.conftest import start_api
from tests.e2e.test_ingress_haproxy import HTTP, HTTPS, PORTS, STATS, Env, slices
from tests.unit.ingress.fixtures import ingress, ingress_class, path, rule, service
from tests.unit.ingress.netns import Netns

LB_IP = "198.51.100.7"


async def until(check: Callable[[], Any], timeout: float = 10.0, what: str = "") -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        error: Exception | None = None
        try:
            value = await check()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - reported on timeout
            error = exc
        if loop.time() > deadline:
            raise TimeoutError(f"timed out waiting for {what} (last error: {error!r})")
        await asyncio.sleep(0.05)


class World:
    def __init__(self, client: Api, env: Env, controller: IngressController) -> None:
        self.client, self.env, self.controller = client, env, controller

    async def create(self, obj: dict) -> None:
        await self.client.create(builtin_kind(obj), obj)

    async def status_ips(self, name: str) -> list[str]:
        ing = await self.client.get(INGRESS, name, namespace="default")
        items = ((ing.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        return [str(i["ip"]) for i in items]


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    ns = Netns()
    server, api = await start_api(tmp_path)
    client = Api.connect(server.kubeconfig, "test")
    env = Env(ns, tmp_path / "unused")
    config = parse_config(
        ["--kubeconfig", str(server.kubeconfig), "--state-dir", str(tmp_path / "haproxy"),
         "--run-dir", str(tmp_path / "run"),
         "--http-port", str(HTTP), "--https-port", str(HTTPS), "--stats-port", str(STATS),
         "--bind-address", "127.0.0.1", "--slot-scale", "4"],
        {"POD_NAME": "nginx-0", "POD_NAMESPACE": "app-routing-system"})
    controller = IngressController(client, config, haproxy_prefix=ns.prefix)
    env.haproxy = controller.haproxy
    try:
        await env.serve_backends()
        for name in ("app-routing-system",):
            await client.create(NAMESPACE, {"metadata": {"name": name}})
        await client.create(INGRESS_CLASS, {"apiVersion": "networking.k8s.io/v1",
                                            "kind": "IngressClass", **ingress_class()})
        lb = service("nginx", ("http", 80, 80), ns="app-routing-system")
        lb["spec"]["type"] = "LoadBalancer"
        await client.create(SERVICE, lb, "app-routing-system")
        await client.patch(SERVICE.status, "nginx", {"status": {"loadBalancer": {
            "ingress": [{"ip": LB_IP}]}}}, namespace="app-routing-system")
        await client.create(SERVICE, service("web", ("", 80, 8080)), "default")
        await controller.start()
        yield World(client, env, controller)
    finally:
        await controller.stop()
        for runner in env.runners:
            await runner.cleanup()
        await client.close()
        await api.session.close()
        await server.stop()
        ns.close()


def _ingress(name: str, **kw: Any) -> dict:
    obj = ingress(name, rule("shop.example.com", path("/", "web")), **kw)
    obj["metadata"].pop("creationTimestamp")
    obj["metadata"].pop("uid")
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", **obj}


def _slice(*backends: str) -> list[dict[str, Any]]:
    return list(slices("web", *backends))


async def test_controller_serves_status_events_and_endpoint_changes(world: World) -> None:
    await world.create(_ingress("shop", annotations={
        "nginx.ingress.kubernetes.io/configuration-snippet": "x"}))
    await world.create(_ingress("other", cls="someone-else"))
    for eps in _slice("web-a"):
        await world.client.create(ENDPOINT_SLICE, eps, "default")

    async def served_by(name: str) -> bool:
        r = await world.env.get("shop.example.com", "/x")
        return r.status == 200 and r.body.startswith(name)
    await until(lambda: served_by("web-a"), what="routing to web-a")
    assert await until(lambda: world.status_ips("shop"), what="status") == [LB_IP]
    assert await world.status_ips("other") == []

    async def warning() -> list[dict[str, Any]]:
        events = (await world.client.list(EVENT, "default")).items
        return [e for e in events if e["reason"] == "UnsupportedAnnotation"]
    events = await until(warning, what="UnsupportedAnnotation event")
    assert events[0]["type"] == "Warning" and events[0]["involvedObject"]["name"] == "shop"
    assert "configuration-snippet" in events[0]["message"]

    reloads = world.controller.applier.reloads
    await world.client.delete(ENDPOINT_SLICE, "web-web-a", namespace="default")
    for eps in _slice("web-b"):
        await world.client.create(ENDPOINT_SLICE, eps, "default")
    await until(lambda: served_by("web-b"), what="routing to web-b")
    assert world.controller.applier.reloads == reloads

    # leaving the class removes our address
    await world.client.patch(INGRESS, "shop", {"spec": {"ingressClassName": "someone-else"}},
                             namespace="default")

    async def cleared() -> bool:
        return await world.status_ips("shop") == []
    await until(cleared, what="status removed")
    r = await world.env.get("shop.example.com", "/")
    assert r.status == 404
    assert PORTS["web-b"] == 18082
