"""Node lifecycle: a node whose Lease goes stale turns Unknown, tainted, its pods NotReady."""

from __future__ import annotations

import datetime

import pytest

from portico.controllers._nodelifecycle import desired_taints
from portico.controllers._taint_eviction import eviction_delay
from portico.model.kinds import LEASE, NODE, POD
from tests.unit.controllers.conftest import eventually


@pytest.mark.parametrize(("ready", "silent", "expected"), [
    pytest.param("True", False, [], id="healthy"),
    pytest.param("True", True, [("node.kubernetes.io/unreachable", "NoSchedule"),
                                ("node.kubernetes.io/unreachable", "NoExecute")], id="silent"),
    pytest.param("False", False, [("node.kubernetes.io/not-ready", "NoSchedule"),
                                  ("node.kubernetes.io/not-ready", "NoExecute")], id="not-ready"),
])
def test_desired_taints(ready, silent, expected):
    node = {"spec": {"taints": [{"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule"},
                                {"key": "user", "effect": "NoSchedule"}]},
            "status": {"conditions": [{"type": "Ready", "status": ready}]}}
    got = desired_taints(node, silent, "2026-01-01T00:00:00Z")
    assert [(t["key"], t["effect"]) for t in got] == [("user", "NoSchedule"), *expected]


def lease(name: str) -> dict:
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": name, "namespace": "kube-node-lease"},
            "spec": {"holderIdentity": name, "renewTime": now, "leaseDurationSeconds": 40}}


async def test_stale_lease_marks_node_unknown_then_recovers(cluster_factory):
    c = await cluster_factory("nodelifecycle", grace=0.4)
    await c.add_node("node-1")
    await c.client.create(LEASE, lease("node-1"), namespace="kube-node-lease")
    await c.client.create(POD, {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"nodeName": "node-1", "containers": [{"name": "c", "image": "x"}]}},
        namespace="default")
    await c.set_pod("p", True, "10.244.0.2")

    async def unknown():
        node = await c.client.get(NODE, "node-1")
        ready = [x for x in node["status"]["conditions"] if x["type"] == "Ready"][0]
        taints = [(t["key"], t["effect"]) for t in node["spec"].get("taints") or []]
        return ready["status"] == "Unknown" and taints and (ready, taints)

    ready, taints = await eventually(unknown)
    assert (ready["reason"], ready["message"]) == ("NodeStatusUnknown",
                                                    "Kubelet stopped posting node status.")
    assert taints == [("node.kubernetes.io/unreachable", "NoSchedule"),
                      ("node.kubernetes.io/unreachable", "NoExecute")]

    async def pod_not_ready():
        pod = await c.client.get(POD, "p", namespace="default")
        return [x["status"] for x in pod["status"]["conditions"] if x["type"] == "Ready"] == [
            "False"]

    await eventually(pod_not_ready)
    # the kubelet comes back: the Lease is renewed, the taints go
    await c.client.replace(LEASE, lease("node-1"), namespace="kube-node-lease")

    async def untainted():
        node = await c.client.get(NODE, "node-1")
        return not node["spec"].get("taints")

    await eventually(untainted)


NOW = datetime.datetime(2026, 1, 1, 0, 1, 0, tzinfo=datetime.UTC)
UNREACHABLE = {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute",
               "timeAdded": "2026-01-01T00:00:00Z"}


def toleration(seconds: int | None, key: str = "node.kubernetes.io/unreachable") -> dict:
    tol = {"key": key, "operator": "Exists", "effect": "NoExecute"}
    return tol if seconds is None else {**tol, "tolerationSeconds": seconds}


@pytest.mark.parametrize(("tolerations", "expected"), [
    pytest.param([], 0.0, id="not-tolerated"),
    pytest.param([toleration(300)], 240.0, id="default-300s-60s-ago"),
    pytest.param([toleration(300), toleration(30)], 0.0, id="shortest-wins-and-is-past"),
    pytest.param([toleration(90)], 30.0, id="short"),
    pytest.param([toleration(None)], None, id="forever"),
    pytest.param([toleration(300, "other")], 0.0, id="other-key"),
    pytest.param([{"operator": "Exists"}], None, id="tolerates-everything"),
])
def test_eviction_delay(tolerations, expected):
    pod = {"spec": {"tolerations": tolerations}}
    assert eviction_delay(pod, [UNREACHABLE], NOW) == expected


async def test_pods_are_evicted_after_their_toleration_seconds(cluster_factory):
    c = await cluster_factory("nodelifecycle", grace=0.4)
    await c.add_node("node-1")
    await c.client.create(LEASE, lease("node-1"), namespace="kube-node-lease")
    for name, seconds in (("short", 1), ("default", None)):
        spec = {"nodeName": "node-1", "containers": [{"name": "c", "image": "x"}]}
        if seconds is not None:
            spec["tolerations"] = [toleration(seconds)]
        await c.client.create(POD, {"apiVersion": "v1", "kind": "Pod",
                                    "metadata": {"name": name}, "spec": spec},
                              namespace="default")

    async def evicted():
        pod = await c.client.get(POD, "short", namespace="default")
        return pod["metadata"].get("deletionTimestamp") and pod

    pod = await eventually(evicted, timeout=10.0)
    target = [x for x in pod["status"]["conditions"] if x["type"] == "DisruptionTarget"]
    assert [(x["status"], x["reason"], x["message"]) for x in target] == [
        ("True", "DeletionByTaintManager", "Taint manager: deleting due to NoExecute taint")]
    default = await c.client.get(POD, "default", namespace="default")
    assert not default["metadata"].get("deletionTimestamp")  # 300 s: not yet
    assert {t["key"]: t["tolerationSeconds"] for t in default["spec"]["tolerations"]} == {
        "node.kubernetes.io/not-ready": 300, "node.kubernetes.io/unreachable": 300}
