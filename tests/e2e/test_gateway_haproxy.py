"""Real HAProxy, no cluster: a Gateway's routing table rendered by the gateway pods' renderer and
run by ingress's applier in a throwaway netns; which changes are runtime commands.

The environment is `test_ingress_haproxy`'s (aiohttp backends on 127.0.0.1 inside the
namespace `portico-t-ing…`, loopback only), each backend one Service's only "pod". A
backendRef moved to another Service of the route's namespace, new weights (0 included)
and a changed rule timeout are runtime map updates (the same worker serves, traffic
follows at once); a Service in a namespace no route is in needs a backend of its own,
and a new match changes the frontend: both are reloads.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from portico.gateway import render
from portico.gateway.attach import attachments
from portico.gateway.listeners import gateway_view
from portico.gateway.model import CLASS_NAME, CONTROLLER_NAME, Snapshot
from portico.gateway.routing import build_table
from portico.ingress.apply import Applier, Outcome
from tests.e2e.test_ingress_haproxy import PORTS, Env, running
from tests.unit.ingress.netns import Netns

PORT = 18090
PODS = {("default", "blue"): PORTS["web-a"], ("default", "green"): PORTS["web-b"],
        ("other", "red"): PORTS["web-c"]}
ANSWERS = {"web-a": "blue", "web-b": "green", "web-c": "red"}
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


class GatewayEnv(Env):
    """Ingress's environment with the gateway pods' renderer and applier settings."""

    def __init__(self, ns: Netns, state: Path) -> None:
        super().__init__(ns, state)
        self.applier = Applier(self.settings, self.haproxy, render.render_table,
                               precheck=False)

    async def route(self, shift: dict[str, Any]) -> Outcome:
        snap = snapshot(shift)
        key = ("default", "gw")
        view = gateway_view(snap, snap.gateways[key])
        attached, _ = attachments(snap, {key: view})
        return (await self.applier.apply(build_table(snap, view, attached))).outcome

    async def answer(self, path: str = "/") -> str:
        """`<status> <Service>` (the Service whose pod answered, empty for HAProxy)."""
        reply = await self.get(HOST, path, port=PORT)
        return f"{reply.status} {ANSWERS.get(reply.body.split(' ')[0], '')}"


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[GatewayEnv]:
    async with running(GatewayEnv, tmp_path) as environment:
        yield environment


async def test_backend_ref_moves_and_timeouts_are_runtime_updates(env: GatewayEnv) -> None:
    assert await env.route(route(("blue", 1))) == Outcome.STARTED
    assert await env.answer() == "200 blue"
    workers = (await env.haproxy.show_proc())[0]
    assert await env.route(route(("green", 1))) == Outcome.RUNTIME
    assert await env.answer() == "200 green"    # the map is committed when apply returns
    assert await env.route(route(("green", 1), timeout="2s")) == Outcome.RELOADED  # 1st timeout
    workers = (await env.haproxy.show_proc())[0]
    assert await env.route(route(("blue", 1), timeout="3s")) == Outcome.RUNTIME
    assert await env.answer() == "200 blue"
    assert (await env.haproxy.show_proc())[0] == workers   # no new worker for either
    assert env.applier.runtime_updates == 2


async def test_weights_and_unresolved_refs_are_runtime_updates(env: GatewayEnv) -> None:
    assert await env.route(route(("blue", 1), ("green", 0))) == Outcome.STARTED
    assert {await env.answer() for _ in range(20)} == {"200 blue"}
    assert await env.route(route(("blue", 1), ("green", 1))) == Outcome.RUNTIME
    assert {await env.answer() for _ in range(40)} == {"200 blue", "200 green"}
    assert await env.route(route(("blue", 0), ("green", 3))) == Outcome.RUNTIME
    assert {await env.answer() for _ in range(20)} == {"200 green"}
    unresolved = route(("blue", 1), ("green", 1))
    unresolved["spec"]["rules"][0]["backendRefs"][1]["name"] = "missing"
    assert await env.route(unresolved) == Outcome.RUNTIME
    assert {await env.answer() for _ in range(40)} == {"200 blue", "500 "}  # its share: 500s
    assert await env.route(route(("blue", 0), ("green", 0))) == Outcome.RUNTIME
    assert {await env.answer() for _ in range(5)} == {"500 "}   # no weight at all: 500
    assert env.applier.reloads == 0


async def test_new_backends_and_new_matches_reload(env: GatewayEnv) -> None:
    assert await env.route(route(("blue", 1))) == Outcome.STARTED
    assert await env.route(route(("red", 1))) == Outcome.RELOADED   # not declared: a new backend
    assert await env.answer() == "200 red"
    assert await env.route(route(("red", 1), paths=("/a",))) == Outcome.RELOADED
    assert await env.answer("/a/x") == "200 red"
    assert await env.answer("/b") == "404 "
