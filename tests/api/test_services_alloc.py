"""Issue 3: ClusterIP/nodePort allocation over the HTTP API, across creates, updates, deletes.

Every step checks the Service the API returns *and* the server's allocation
records, so a value is never held without an owner or owned without a record.
Predictable allocation (`random_allocation=False`) makes dynamic values exact
(first dynamic ClusterIP 10.0.1.1, nodePort 30086); the default random allocator
is checked to stay in the upper bands. Custom `--service-cidr` and
`--node-port-range` are honoured, including in the error messages, and a full
range answers 500 `range is full`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator
from typing import Any

import pytest
from test_services_support import SVCS, allocations, expect_invalid, held, svc

from portico.apiserver.resources.services import ServiceConfig
from tests.api.conftest import Api, start_api

MERGE = "application/merge-patch+json"
INV = "FieldValueInvalid"
KUBE_IP = {"10.0.0.1": "default/kubernetes"}
LOCAL_LB = {"type": "LoadBalancer", "externalTrafficPolicy": "Local"}


async def _server(tmp_path: Any, config: ServiceConfig) -> AsyncIterator[Api]:
    server, client = await start_api(tmp_path, services=config)
    try:
        yield client
    finally:
        await client.session.close()
        await server.stop()


@pytest.fixture
async def det(tmp_path: Any) -> AsyncIterator[Api]:
    """An API server whose dynamic allocations take the lowest free upper-band value."""
    async for client in _server(tmp_path, ServiceConfig(random_allocation=False)):
        yield client


@pytest.fixture
async def tiny(tmp_path: Any) -> AsyncIterator[Api]:
    """`--service-cidr 10.96.0.0/28 --node-port-range 30000-30002` (default random picks)."""
    config = ServiceConfig(ipaddress.IPv4Network("10.96.0.0/28"), (30000, 30002))
    async for client in _server(tmp_path, config):
        yield client


async def create(api: Api, name: str, **spec: Any) -> dict[str, Any]:
    reply = await api.post(SVCS, svc(name, **spec))
    assert reply.status == 201, reply.body
    return reply.body["spec"]


async def patch(api: Api, name: str, spec: dict[str, Any]) -> Any:
    return await api.patch(f"{SVCS}/{name}", {"spec": spec}, content_type=MERGE)


async def assert_records_match(api: Api) -> None:
    """The allocation records are exactly what the stored Services hold."""
    listed = (await api.get(SVCS.replace("/namespaces/default", ""))).body["items"]
    assert allocations(api.server) == held(listed)


async def test_random_dynamic_values_stay_in_the_upper_bands(api: Api) -> None:
    for i in range(20):
        spec = await create(api, f"s{i}", type="LoadBalancer", externalTrafficPolicy="Local",
                            ports=[{"port": 80}])
        ip = ipaddress.IPv4Address(spec["clusterIP"])
        assert ipaddress.IPv4Address("10.0.1.1") <= ip <= ipaddress.IPv4Address("10.0.255.254")
        assert 30086 <= spec["ports"][0]["nodePort"] <= 32767
        assert 30086 <= spec["healthCheckNodePort"] <= 32767
    await assert_records_match(api)


async def test_taken_nodeport_and_health_check_port(det: Api) -> None:
    await create(det, "a", type="LoadBalancer", externalTrafficPolicy="Local",
                 ports=[{"port": 80, "nodePort": 30080}], healthCheckNodePort=30081)
    taken = await det.post(SVCS, svc("b", type="NodePort",
                                     ports=[{"port": 80, "nodePort": 30080}]))
    assert (taken.status, taken.body) == (422, expect_invalid("b", (
        "spec.ports[0].nodePort", INV, "Invalid value: 30080: provided port is already "
        "allocated")))
    hc = await det.post(SVCS, svc("c", type="NodePort", ports=[{"port": 80, "nodePort": 30081}]))
    assert hc.body["message"] == ('Service "c" is invalid: spec.ports[0].nodePort: Invalid '
                                  "value: 30081: provided port is already allocated")
    hc2 = await det.post(SVCS, svc("d", type="LoadBalancer", externalTrafficPolicy="Local",
                                   ports=[{"port": 80}], healthCheckNodePort=30080))
    assert (hc2.status, hc2.body["reason"], hc2.body["message"]) == (
        500, "InternalError", "Internal error occurred: failed to allocate requested "
        "HealthCheck NodePort 30080: provided port is already allocated")
    assert allocations(det.server) == (
        {**KUBE_IP, "10.0.1.1": "default/a"}, {"30080": "default/a", "30081": "default/a"})


async def test_type_changes_keep_move_and_release_values(det: Api) -> None:
    spec = await create(det, "web", selector={"app": "web"}, ports=[{"port": 80}])
    assert spec["clusterIP"] == "10.0.1.1"
    step = await patch(det, "web", {"type": "NodePort"})
    assert [p["nodePort"] for p in step.body["spec"]["ports"]] == [30086]
    step = await patch(det, "web", {"type": "LoadBalancer", "externalTrafficPolicy": "Local"})
    lb = step.body["spec"]
    assert (lb["ports"][0]["nodePort"], lb["healthCheckNodePort"], lb["clusterIP"]) == (
        30086, 30087, "10.0.1.1")
    assert allocations(det.server) == ({**KUBE_IP, "10.0.1.1": "default/web"},
                                       {"30086": "default/web", "30087": "default/web"})
    moved = await patch(det, "web", {"ports": [{"port": 80, "nodePort": 30090}]})
    assert moved.status == 200, moved.body
    assert allocations(det.server)[1] == {"30090": "default/web", "30087": "default/web"}
    await create(det, "other", type="NodePort", ports=[{"port": 80, "nodePort": 30086}])
    back = await patch(det, "web", {"type": "ClusterIP"})
    assert back.body["spec"] == {
        "selector": {"app": "web"}, "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}],
        "type": "ClusterIP", "sessionAffinity": "None", "internalTrafficPolicy": "Cluster",
        "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
        "clusterIP": "10.0.1.1", "clusterIPs": ["10.0.1.1"]}
    assert back.body["status"] == {"loadBalancer": {}}
    assert allocations(det.server)[1] == {"30086": "default/other"}
    await create(det, "reuse", type="LoadBalancer", externalTrafficPolicy="Local",
                 ports=[{"port": 80, "nodePort": 30090}], healthCheckNodePort=30087)
    ext = await patch(det, "web", {"type": "ExternalName", "externalName": "db.example.com"})
    assert ext.body["spec"] == {
        "selector": {"app": "web"}, "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}],
        "type": "ExternalName", "externalName": "db.example.com", "sessionAffinity": "None",
        "internalTrafficPolicy": "Cluster"}
    assert "10.0.1.1" not in allocations(det.server)[0]
    await create(det, "takes-ip", clusterIP="10.0.1.1", ports=[{"port": 80}])
    await assert_records_match(det)


async def test_externalname_to_clusterip_allocates(det: Api) -> None:
    await create(det, "ext", type="ExternalName", externalName="db.example.com")
    assert allocations(det.server) == (KUBE_IP, {})
    reply = await patch(det, "ext", {"type": "NodePort", "externalName": None,
                                     "ports": [{"port": 5432}]})
    assert reply.status == 200, reply.body
    spec = reply.body["spec"]
    assert (spec["clusterIPs"], spec["ports"][0]["nodePort"]) == (["10.0.1.1"], 30086)
    await assert_records_match(det)


async def test_delete_releases_everything(det: Api) -> None:
    await create(det, "lb", type="LoadBalancer", externalTrafficPolicy="Local",
                 clusterIP="10.0.0.77",
                 ports=[{"name": "a", "port": 80, "nodePort": 30080},
                        {"name": "b", "port": 443, "nodePort": 30443}],
                 healthCheckNodePort=30444)
    assert (await det.delete(f"{SVCS}/lb")).status == 200
    assert allocations(det.server) == (KUBE_IP, {})
    again = await create(det, "lb2", type="LoadBalancer", externalTrafficPolicy="Local",
                         clusterIP="10.0.0.77",
                         ports=[{"name": "a", "port": 80, "nodePort": 30443},
                                {"name": "b", "port": 443, "nodePort": 30444}],
                         healthCheckNodePort=30080)
    assert again["healthCheckNodePort"] == 30080
    await assert_records_match(det)


async def test_allocate_lb_nodeports_false_keeps_existing(det: Api) -> None:
    await create(det, "lb", type="LoadBalancer", ports=[{"port": 80}])
    reply = await patch(det, "lb", {"allocateLoadBalancerNodePorts": False})
    assert reply.body["spec"]["ports"][0]["nodePort"] == 30086
    assert allocations(det.server)[1] == {"30086": "default/lb"}


UPDATE_ERRORS = [
    pytest.param({"ports": [{"port": 80}]}, {"clusterIP": "10.0.0.60"},
                 ("spec.clusterIPs[0]", INV,
                  'Invalid value: []string{"10.0.0.60"}: may not change once set'),
                 id="clusterip-immutable"),
    pytest.param({"type": "LoadBalancer", "ports": [{"port": 80}],
                  "loadBalancerClass": "example.com/a"},
                 {"loadBalancerClass": "example.com/b"},
                 ("spec.loadBalancerClass", INV,
                  'Invalid value: "example.com/b": may not change once set'),
                 id="lb-class-immutable"),
    pytest.param({"type": "LoadBalancer", "ports": [{"port": 80}]},
                 {"loadBalancerClass": "example.com/b"},
                 ("spec.loadBalancerClass", INV,
                  'Invalid value: "example.com/b": may not change once set'),
                 id="lb-class-cannot-be-added"),
    pytest.param({"type": "NodePort", "ports": [{"port": 80}]},
                 {"ports": [{"port": 80, "nodePort": 30000}]},
                 ("spec.ports[0].nodePort", INV,
                  "Invalid value: 30000: provided port is already allocated"),
                 id="nodeport-taken-on-update"),
    pytest.param({"type": "NodePort", "ports": [{"port": 80}]},
                 {"ports": [{"port": 80, "nodePort": 29999}]},
                 ("spec.ports[0].nodePort", INV, "Invalid value: 29999: provided port is not in "
                  "the valid range. The range of valid ports is 30000-32767"),
                 id="nodeport-out-of-range-on-update"),
]


@pytest.mark.parametrize(("spec", "change", "cause"), UPDATE_ERRORS)
async def test_update_errors(det: Api, spec: dict[str, Any], change: dict[str, Any],
                             cause: tuple[str, str, str]) -> None:
    await create(det, "holder", type="NodePort", ports=[{"port": 80, "nodePort": 30000}])
    before = await create(det, "x", **spec)
    reply = await patch(det, "x", change)
    assert (reply.status, reply.body) == (422, expect_invalid("x", cause))
    assert (await det.get(f"{SVCS}/x")).body["spec"] == before
    await assert_records_match(det)


INTERNAL = [
    pytest.param({**LOCAL_LB, "ports": [{"port": 80}], "healthCheckNodePort": 20000},
                 "failed to allocate requested HealthCheck NodePort 20000: provided port is not "
                 "in the valid range. The range of valid ports is 30000-32767",
                 id="hc-port-out-of-range"),
    pytest.param({**LOCAL_LB, "ports": [{"port": 80}], "healthCheckNodePort": 70000},
                 "failed to allocate requested HealthCheck NodePort 70000: provided port is not "
                 "in the valid range. The range of valid ports is 30000-32767",
                 id="hc-port-not-a-port"),
]


@pytest.mark.parametrize(("spec", "message"), INTERNAL)
async def test_health_check_port_allocation_errors_are_internal(
        det: Api, spec: dict[str, Any], message: str) -> None:
    reply = await det.post(SVCS, svc("x", **spec))
    assert (reply.status, reply.body["reason"], reply.body["message"]) == (
        500, "InternalError", f"Internal error occurred: {message}")
    assert allocations(det.server) == (KUBE_IP, {})


async def test_health_check_port_cannot_change(det: Api) -> None:
    await create(det, "lb", type="LoadBalancer", externalTrafficPolicy="Local",
                 ports=[{"port": 80}])
    reply = await patch(det, "lb", {"healthCheckNodePort": 30099})
    assert reply.status == 422
    assert [c["field"] for c in reply.body["details"]["causes"]] == ["spec.healthCheckNodePort"]
    assert allocations(det.server)[1] == {"30086": "default/lb", "30087": "default/lb"}


async def test_custom_service_cidr_and_node_port_range(tiny: Api) -> None:
    """10.96.0.0/28: 14 addresses, no static band; .1 is `kubernetes`, .10 is kept for DNS."""
    assert allocations(tiny.server) == ({"10.96.0.1": "default/kubernetes"}, {})
    got = []
    for i in range(12):
        got.append((await create(tiny, f"s{i}", ports=[{"port": 80}]))["clusterIP"])
    assert sorted(got, key=ipaddress.IPv4Address) == [
        f"10.96.0.{n}" for n in (2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14)]
    full = await tiny.post(SVCS, svc("full", ports=[{"port": 80}]))
    assert (full.status, full.body["reason"], full.body["message"]) == (
        500, "InternalError", "Internal error occurred: failed to allocate a serviceIP: "
        "range is full")
    dns = await create(tiny, "dns", clusterIP="10.96.0.10", ports=[{"port": 53}])
    assert dns["clusterIP"] == "10.96.0.10"
    for i in range(4):
        await tiny.delete(f"{SVCS}/s{i}")
    ports = []
    for i in range(3):
        spec = await create(tiny, f"np{i}", type="NodePort", ports=[{"port": 80}])
        ports.append(spec["ports"][0]["nodePort"])
    assert sorted(ports) == [30000, 30001, 30002]
    full = await tiny.post(SVCS, svc("full", type="NodePort", ports=[{"port": 80}]))
    assert (full.status, full.body["reason"], full.body["message"]) == (
        500, "InternalError", "Internal error occurred: failed to allocate a nodePort: "
        "range is full")
    out = await tiny.post(SVCS, svc("out", type="NodePort",
                                    ports=[{"port": 80, "nodePort": 30080}]))
    assert (out.status, out.body) == (422, expect_invalid("out", (
        "spec.ports[0].nodePort", INV, "Invalid value: 30080: provided port is not in the "
        "valid range. The range of valid ports is 30000-30002")))
    await assert_records_match(tiny)


async def test_range_full_status_body(tmp_path: Any) -> None:
    config = ServiceConfig(node_port_range=(30000, 30000))
    async for api in _server(tmp_path, config):
        await create(api, "a", type="NodePort", ports=[{"port": 80}])
        reply = await api.post(SVCS, svc("b", type="NodePort", ports=[{"port": 80}]))
        message = "failed to allocate a nodePort: range is full"
        assert reply.body == {
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": f"Internal error occurred: {message}", "reason": "InternalError",
            "details": {"causes": [{"message": message}]}, "code": 500}
