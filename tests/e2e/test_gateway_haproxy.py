"""Real HAProxy, no cluster: a Gateway's routing table rendered by the gateway pods' renderer and
run by ingress's applier in a throwaway netns; which changes are runtime commands.

Backends are small aiohttp servers on 127.0.0.1 inside the namespace (`portico-t-ing…`,
loopback only), each Service's one "pod". A backendRef moved to another Service of the
route's namespace, new weights (0 included) and a changed rule timeout are runtime map
updates (the same worker serves, traffic follows at once); a Service in a namespace no
route is in needs a backend of its own, and a new match changes the frontend: both are
reloads.
"""

from __future__ import annotations

import asyncio
import copy
import os
from collections.abc import AsyncIterator
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from aiohttp import web

from portico.gateway import render
from portico.gateway.attach import attachments
from portico.gateway.listeners import gateway_view
from portico.gateway.model import CLASS_NAME, CONTROLLER_NAME, Snapshot, namespaced_name
from portico.gateway.routing import build_table
from portico.ingress.apply import Applier, Outcome
from portico.ingress.haproxy import HAProxyProcess
from portico.ingress.model import Settings
from tests.unit.ingress.netns import Netns

pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root for netns")]
PORT, STATS = 18090, 18254
PODS = {("default", "blue"): 18091, ("default", "green"): 18092, ("other", "red"): 18093}
HOST = "shift.example.com"


def _gateway() -> dict[str, Any]:
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
            "metadata": {"name": "gw", "namespace": "default", "generation": 1},
            "spec": {"gatewayClassName": CLASS_NAME, "listeners": [
                {"name": "http", "port": PORT, "protocol": "HTTP",
                 "allowedRoutes": {"namespaces": {"from": "Same"}}}]}}


def route(*refs: tuple[str, int], timeout: str | None = None,
          paths: tuple[str, ...] = ("/",)) -> dict[str, Any]:
    """HTTPRoute `shift`: one rule matching `paths`, to weighted (Service, weight) refs."""
    rule: dict[str, Any] = {
        "matches": [{"path": {"type": "PathPrefix", "value": p}} for p in paths],
        "backendRefs": [{"name": name, "namespace": "other" if name == "red" else "default",
                         "port": 80, "weight": weight} for name, weight in refs]}
    if timeout:
        rule["timeouts"] = {"request": timeout}
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": "shift", "namespace": "default", "generation": 1,
                         "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"parentRefs": [{"name": "gw"}], "hostnames": [HOST], "rules": [rule]}}


def snapshot(shift: dict[str, Any]) -> Snapshot:
    services = {key: {"metadata": {"namespace": key[0], "name": key[1]},
                      "spec": {"ports": [{"port": 80, "targetPort": port}]}}
                for key, port in PODS.items()}
    slices = tuple({"metadata": {"namespace": ns, "name": name,
                                 "labels": {"kubernetes.io/service-name": name}},
                    "addressType": "IPv4", "endpoints": [{"addresses": ["127.0.0.1"]}],
                    "ports": [{"name": "", "port": port}]} for (ns, name), port in PODS.items())
    grant = {"metadata": {"namespace": "other", "name": "routes"},
             "spec": {"from": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute",
                                "namespace": "default"}], "to": [{"group": "", "kind": "Service"}]}}
    return Snapshot(classes={CLASS_NAME: {"metadata": {"name": CLASS_NAME},
                                          "spec": {"controllerName": CONTROLLER_NAME}}},
                    gateways={("default", "gw"): _gateway()}, http_routes=(shift,),
                    reference_grants=(grant,), services=services, endpoint_slices=slices,
                    namespaces={ns: {"metadata": {"name": ns}} for ns in ("default", "other")})


class Env:
    def __init__(self, ns: Netns, state: Path) -> None:
        self.ns = ns
        self.settings = Settings(state_dir=PurePosixPath(state),
                                 run_dir=PurePosixPath(state / "run"), stats_port=STATS,
                                 bind_address="127.0.0.1", slot_scale=4)
        self.haproxy = HAProxyProcess(state / "haproxy.cfg", state / "run" / "master.sock",
                                      state / "run" / "admin.sock", prefix=ns.prefix)
        self.applier = Applier(self.settings, self.haproxy, render.render_table,
                               precheck=False)
        self.runners: list[web.AppRunner] = []

    async def serve_pods(self) -> None:
        for (_, name), port in PODS.items():
            async def answer(_request: web.Request, name: str = name) -> web.Response:
                return web.Response(text=name)
            app = web.Application()
            app.router.add_get("/{tail:.*}", answer)
            runner = web.AppRunner(app)
            await runner.setup()
            await web.SockSite(runner, self.ns.listen(port)).start()
            self.runners.append(runner)

    async def apply(self, shift: dict[str, Any]) -> Outcome:
        snap = snapshot(shift)
        view = gateway_view(snap, snap.gateways[("default", "gw")])
        attached, _ = attachments(snap, {namespaced_name(_gateway()): view})
        return (await self.applier.apply(build_table(snap, view, attached))).outcome

    async def get(self, path: str = "/") -> str:
        sock = self.ns.socket()
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", PORT))
        reader, writer = await asyncio.open_connection(sock=sock)
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n"
                     .encode())
        data = await asyncio.wait_for(reader.read(), 10)
        writer.close()
        head, _, body = data.decode(errors="replace").partition("\r\n\r\n")
        return f"{head.split()[1]} {body}"

    async def close(self) -> None:
        await self.haproxy.stop()
        for runner in self.runners:
            await runner.cleanup()


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    ns = Netns()
    environment = Env(ns, tmp_path)
    try:
        await environment.serve_pods()
        yield environment
    finally:
        await environment.close()
        ns.close()


async def test_backend_ref_moves_and_timeouts_are_runtime_updates(env: Env) -> None:
    assert await env.apply(route(("blue", 1))) == Outcome.STARTED
    assert await env.get() == "200 blue"
    workers = (await env.haproxy.show_proc())[0]
    assert await env.apply(route(("green", 1))) == Outcome.RUNTIME
    assert await env.get() == "200 green"    # the map is committed when apply returns
    assert await env.apply(route(("green", 1), timeout="2s")) == Outcome.RELOADED  # 1st timeout
    workers = (await env.haproxy.show_proc())[0]
    assert await env.apply(route(("blue", 1), timeout="3s")) == Outcome.RUNTIME
    assert await env.get() == "200 blue"
    assert (await env.haproxy.show_proc())[0] == workers   # no new worker for either
    assert env.applier.runtime_updates == 2


async def test_weights_and_unresolved_refs_are_runtime_updates(env: Env) -> None:
    assert await env.apply(route(("blue", 1), ("green", 0))) == Outcome.STARTED
    assert {await env.get() for _ in range(20)} == {"200 blue"}
    assert await env.apply(route(("blue", 1), ("green", 1))) == Outcome.RUNTIME
    assert {await env.get() for _ in range(40)} == {"200 blue", "200 green"}
    assert await env.apply(route(("blue", 0), ("green", 3))) == Outcome.RUNTIME
    assert {await env.get() for _ in range(20)} == {"200 green"}
    unresolved = route(("blue", 1), ("green", 1))
    unresolved["spec"]["rules"][0]["backendRefs"][1]["name"] = "missing"
    assert await env.apply(unresolved) == Outcome.RUNTIME
    assert {await env.get() for _ in range(40)} == {"200 blue", "500 "}  # its share: 500s
    assert await env.apply(route(("blue", 0), ("green", 0))) == Outcome.RUNTIME
    assert {await env.get() for _ in range(5)} == {"500 "}   # no weight at all: 500
    assert env.applier.reloads == 0


async def test_new_backends_and_new_matches_reload(env: Env) -> None:
    assert await env.apply(route(("blue", 1))) == Outcome.STARTED
    assert await env.apply(route(("red", 1))) == Outcome.RELOADED   # not declared: a new backend
    assert await env.get() == "200 red"
    changed = copy.deepcopy(route(("red", 1), paths=("/a",)))
    assert await env.apply(changed) == Outcome.RELOADED
    assert await env.get("/a/x") == "200 red"
    assert await env.get("/b") == "404 "
