"""EndpointSlices and Endpoints: pure rendering with exact objects, then the live controller."""

from __future__ import annotations

from portico.controllers import _slices as sl
from portico.model.kinds import ENDPOINT_SLICE, ENDPOINTS, POD, SERVICE
from tests.unit.controllers.conftest import eventually

SVC = {"metadata": {"name": "web", "namespace": "d", "uid": "svc-uid"},
       "spec": {"selector": {"app": "web"},
                "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": "http"}]}}


def pod(name: str, ip: str, ready: bool = True, terminating: bool = False,
        port: int = 8080, node: str = "n1") -> dict:
    meta = {"name": name, "namespace": "d", "uid": f"uid-{name}", "labels": {"app": "web"}}
    if terminating:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"metadata": meta,
            "spec": {"nodeName": node, "containers": [
                {"name": "c", "ports": [{"name": "http", "containerPort": port}]}]},
            "status": {"phase": "Running", "podIP": ip, "conditions": [
                {"type": "Ready", "status": "True" if ready else "False"}]}}


def ep(name: str, ip: str, ready: bool, serving: bool, terminating: bool) -> dict:
    return {"addresses": [ip],
            "conditions": {"ready": ready, "serving": serving, "terminating": terminating},
            "nodeName": "n1", "zone": "z1",
            "targetRef": {"kind": "Pod", "namespace": "d", "name": name, "uid": f"uid-{name}"}}


def ref(name: str) -> dict:
    return {"kind": "Pod", "namespace": "d", "name": name, "uid": f"uid-{name}"}


def test_conditions_and_named_ports_split_groups():
    pods = [pod("a", "10.0.0.1"), pod("b", "10.0.0.2", ready=False),
            pod("c", "10.0.0.3", terminating=True), pod("d", "10.0.0.4", port=9090)]
    desired = sl.desired_endpoints(SVC, pods, {"n1": "z1"})
    assert desired == {
        (("http", "TCP", 8080, ""),): [ep("a", "10.0.0.1", True, True, False),
                                       ep("b", "10.0.0.2", False, False, False),
                                       ep("c", "10.0.0.3", False, True, True)],
        (("http", "TCP", 9090, ""),): [ep("d", "10.0.0.4", True, True, False)],
    }
    changes = sl.reconcile_slices(SVC, [], desired)
    assert [(s["ports"], [e["addresses"][0] for e in s["endpoints"]]) for s in changes.create] == [
        ([{"name": "http", "protocol": "TCP", "port": 8080}],
         ["10.0.0.1", "10.0.0.2", "10.0.0.3"]),
        ([{"name": "http", "protocol": "TCP", "port": 9090}], ["10.0.0.4"]),
    ]
    assert changes.create[0]["metadata"] == {
        "generateName": "web-", "namespace": "d",
        "labels": {"kubernetes.io/service-name": "web",
                   "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"},
        "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": "web",
                             "uid": "svc-uid", "controller": True, "blockOwnerDeletion": True}]}
    assert sl.render_endpoint_subsets(SVC, pods) == [
        {"addresses": [{"ip": "10.0.0.1", "nodeName": "n1", "targetRef": ref("a")}],
         "notReadyAddresses": [{"ip": "10.0.0.2", "nodeName": "n1", "targetRef": ref("b")}],
         "ports": [{"name": "http", "protocol": "TCP", "port": 8080}]},
        {"addresses": [{"ip": "10.0.0.4", "nodeName": "n1", "targetRef": ref("d")}],
         "ports": [{"name": "http", "protocol": "TCP", "port": 9090}]},
    ]


def test_publish_not_ready_addresses():
    svc = {**SVC, "spec": {**SVC["spec"], "publishNotReadyAddresses": True}}
    desired = sl.desired_endpoints(svc, [pod("b", "10.0.0.2", ready=False)], {})
    assert [e["conditions"] for e in next(iter(desired.values()))] == [
        {"ready": True, "serving": True, "terminating": False}]


def named(i: int) -> dict:
    return pod(f"p{i:03}", f"10.1.{i // 250}.{i % 250 + 1}")


def test_hundred_per_slice_and_minimal_churn():
    pods = [named(i) for i in range(250)]
    changes = sl.reconcile_slices(SVC, [], sl.desired_endpoints(SVC, pods, {}))
    assert [len(s["endpoints"]) for s in changes.create] == [100, 100, 50]
    existing = [dict(s, metadata=dict(s["metadata"], name=f"web-{i}"))
                for i, s in enumerate(changes.create)]
    # one pod goes, one comes: only the slice holding them changes, nothing is recreated
    pods = [p for p in pods if p["metadata"]["name"] != "p010"] + [named(300)]
    again = sl.reconcile_slices(SVC, existing, sl.desired_endpoints(SVC, pods, {}))
    assert (again.create, again.delete) == ([], [])
    assert [s["metadata"]["name"] for s in again.update] == ["web-0"]
    assert len(again.update[0]["endpoints"]) == 100
    settled = [next((u for u in again.update if u["metadata"]["name"] == s["metadata"]["name"]),
                    s) for s in existing]
    assert sl.reconcile_slices(SVC, settled, sl.desired_endpoints(SVC, pods, {})) == \
        sl.SliceChanges()


def test_no_endpoints_keeps_one_placeholder():
    changes = sl.reconcile_slices(SVC, [], {})
    assert [(s["endpoints"], s["ports"]) for s in changes.create] == [([], [])]


async def _equal(fetch, expected) -> bool:
    got = await fetch()
    assert got == expected
    return True


async def test_controller_keeps_slices_and_endpoints(cluster_factory):
    c = await cluster_factory("endpointslice")
    await c.client.create(SERVICE, {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"},
                 "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}},
        namespace="default")
    for name in ("a", "b"):
        await c.client.create(POD, {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "x",
                                     "ports": [{"name": "http", "containerPort": 8080}]}]}},
            namespace="default")
    await c.set_pod("a", True, "10.244.0.2")
    await c.set_pod("b", False, "10.244.0.3")

    async def slices():
        got = (await c.client.list(ENDPOINT_SLICE, namespace="default",
                                   labels={"kubernetes.io/service-name": "web"})).items
        return [([(e["addresses"][0], e["conditions"]["ready"]) for e in s.get("endpoints", [])],
                 s.get("ports")) for s in got]

    expected = [([("10.244.0.2", True), ("10.244.0.3", False)],
                 [{"name": "http", "port": 8080, "protocol": "TCP"}])]
    await eventually(lambda: _equal(slices, expected))

    async def endpoints():
        got = await c.client.get(ENDPOINTS, "web", namespace="default")
        assert sl.TRIGGER_TIME in got["metadata"]["annotations"]
        return [{k: [a["ip"] for a in v] if k != "ports" else v for k, v in s.items()}
                for s in got.get("subsets", [])]

    await eventually(lambda: _equal(endpoints, [{
        "addresses": ["10.244.0.2"], "notReadyAddresses": ["10.244.0.3"],
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}]))
    kubernetes = await c.client.get(ENDPOINTS, "kubernetes", namespace="default")
    assert kubernetes["metadata"]["labels"] == {"endpointslice.kubernetes.io/skip-mirror": "true"}
