"""Issue 3: concurrent Service creates over HTTP never share a ClusterIP or a nodePort.

16 clients x 25 creates of two-port NodePort Services (half of them with a
health-check port too, as LoadBalancer + Local) race against each other and
against deletes; afterwards every value is held by exactly one Service, the counts
add up, and the server's allocation records are exactly what the Services hold.
"""

from __future__ import annotations

import asyncio
from typing import Any

from test_services_support import SVCS, allocations, held, svc

from tests.api.conftest import Api

CLIENTS = 16
CREATES = 25


def body(client: int, i: int) -> dict[str, Any]:
    ports = [{"name": "http", "port": 80}, {"name": "https", "port": 443}]
    if i % 2:
        return svc(f"c{client}-{i}", type="LoadBalancer", externalTrafficPolicy="Local",
                   ports=ports)
    return svc(f"c{client}-{i}", type="NodePort", ports=ports)


async def client_burst(api: Api, client: int) -> list[int]:
    statuses = []
    for i in range(CREATES):
        reply = await api.post(SVCS, body(client, i))
        statuses.append(reply.status)
        if i % 5 == 4:
            statuses.append((await api.delete(f"{SVCS}/c{client}-{i - 1}")).status)
    return statuses


async def test_concurrent_creates_allocate_unique_values(api: Api) -> None:
    results = await asyncio.gather(*(client_burst(api, c) for c in range(CLIENTS)))
    assert {s for statuses in results for s in statuses} == {200, 201}
    items = (await api.get(SVCS)).body["items"]
    ours = [o for o in items if o["metadata"]["name"] != "kubernetes"]
    deleted_per_client = CREATES // 5
    assert len(ours) == CLIENTS * (CREATES - deleted_per_client)
    ips, ports = held(items)  # asserts that no value is held twice
    lb_local = [o for o in ours if o["spec"]["type"] == "LoadBalancer"]
    assert len(ips) == len(ours) + 1  # + the kubernetes Service
    assert len(ports) == 2 * len(ours) + len(lb_local)
    assert allocations(api.server) == (ips, ports)
    for obj in ours:
        spec = obj["spec"]
        assert len({p["nodePort"] for p in spec["ports"]}) == 2
        assert all(30000 <= p["nodePort"] <= 32767 for p in spec["ports"])
