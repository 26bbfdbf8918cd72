"""Controllers against a real in-process API server, reached with `Api` over HTTPS.

`cluster(*controllers, grace=...)` starts the API server, then a ControllerManager
running only the named controllers. Kubelets are simulated by the tests patching
pod status themselves; the scheduler binds pods through `pods/binding`, as in a cluster.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from portico.client import Api, ApiError, PatchType
from portico.controllers._manager import ControllerManager
from portico.model.kinds import NODE, POD
from tests.api.conftest import start_api

Obj = dict[str, Any]


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 5.0) -> Any:
    """Poll `check` until it returns a truthy value (or raises nothing), else fail."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = await check()
            if last:
                return last
        except AssertionError as exc:
            last = exc
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met in {timeout}s: {last!r}")
        await asyncio.sleep(0.02)


class Cluster:
    def __init__(self, client: Api) -> None:
        self.client = client

    async def add_node(self, name: str, labels: dict[str, str] | None = None,
                       ready: str = "True", unschedulable: bool = False,
                       taints: list[Obj] | None = None) -> None:
        body: Obj = {"apiVersion": "v1", "kind": "Node",
                     "metadata": {"name": name, "labels": labels or {}},
                     "spec": {"unschedulable": unschedulable, "taints": taints}}
        await self.client.create(NODE, body)
        await self.client.patch(NODE.status, name, {"status": {"conditions": [
            {"type": "Ready", "status": ready, "reason": "KubeletReady",
             "lastHeartbeatTime": "2026-01-01T00:00:00Z"}]}},
            patch_type=PatchType.MERGE)

    async def pods(self, namespace: str = "default", **kw: Any) -> list[Obj]:
        return (await self.client.list(POD, namespace=namespace, **kw)).items

    async def set_pod(self, name: str, ready: bool, ip: str | None = None,
                      namespace: str = "default", since: str = "2026-01-01T00:00:00Z") -> None:
        """What a kubelet posts: phase Running, the Ready condition, the pod IP."""
        status: Obj = {"phase": "Running", "conditions": [
            {"type": "Ready", "status": "True" if ready else "False",
             "lastTransitionTime": since}]}
        if ip:
            status["podIP"] = ip
            status["podIPs"] = [{"ip": ip}]
        await self.client.patch(POD.status, name, {"status": status}, namespace=namespace,
                                patch_type=PatchType.STRATEGIC)

    async def ready_all(self, namespace: str = "default") -> None:
        for i, pod in enumerate(await self.pods(namespace)):
            if pod["metadata"].get("deletionTimestamp") or any(
                    c["type"] == "Ready" for c in pod["status"].get("conditions", [])):
                continue
            with contextlib.suppress(ApiError):  # deleted meanwhile
                await self.set_pod(pod["metadata"]["name"], True, f"10.244.9.{i + 2}", namespace)


@pytest.fixture
async def cluster_factory(tmp_path) -> AsyncIterator[
        Callable[..., Awaitable[Cluster]]]:
    server, api = await start_api(tmp_path)
    managers: list[ControllerManager] = []
    clients: list[Api] = []

    async def make(*controllers: str, grace: float = 40.0) -> Cluster:
        manager = ControllerManager(server.kubeconfig, enabled=controllers,
                                    node_grace_period=grace)
        await manager.start()
        managers.append(manager)
        client = Api.connect(server.kubeconfig, field_manager="test")
        clients.append(client)
        return Cluster(client)

    try:
        yield make
    finally:
        for manager in managers:
            await manager.stop()
        for client in clients:
            await client.close()
        await api.session.close()
        await server.stop()
