"""Node lifecycle: a node whose Lease goes stale turns Unknown, tainted, its pods NotReady."""

from __future__ import annotations

import datetime

import pytest
from lightkube.resources.coordination_v1 import Lease
from lightkube.resources.core_v1 import Node, Pod

from portico.controllers._nodelifecycle import desired_taints
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


def lease(name: str) -> Lease:
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return Lease.from_dict({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                            "metadata": {"name": name, "namespace": "kube-node-lease"},
                            "spec": {"holderIdentity": name, "renewTime": now,
                                     "leaseDurationSeconds": 40}})


async def test_stale_lease_marks_node_unknown_then_recovers(cluster_factory):
    c = await cluster_factory("nodelifecycle", grace=0.4)
    await c.add_node("node-1")
    await c.client.create(lease("node-1"), namespace="kube-node-lease")
    await c.client.create(Pod.from_dict({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"nodeName": "node-1", "containers": [{"name": "c", "image": "x"}]}}),
        namespace="default")
    await c.set_pod("p", True, "10.244.0.2")

    async def unknown():
        node = (await c.client.get(Node, "node-1")).to_dict()
        ready = [x for x in node["status"]["conditions"] if x["type"] == "Ready"][0]
        taints = [(t["key"], t["effect"]) for t in node["spec"].get("taints") or []]
        return ready["status"] == "Unknown" and taints and (ready, taints)

    ready, taints = await eventually(unknown)
    assert (ready["reason"], ready["message"]) == ("NodeStatusUnknown",
                                                    "Kubelet stopped posting node status.")
    assert taints == [("node.kubernetes.io/unreachable", "NoSchedule"),
                      ("node.kubernetes.io/unreachable", "NoExecute")]

    async def pod_not_ready():
        pod = (await c.client.get(Pod, "p", namespace="default")).to_dict()
        return [x["status"] for x in pod["status"]["conditions"] if x["type"] == "Ready"] == [
            "False"]

    await eventually(pod_not_ready)
    # the kubelet comes back: the Lease is renewed, the taints go
    await c.client.replace(lease("node-1"), namespace="kube-node-lease")

    async def untainted():
        node = (await c.client.get(Node, "node-1")).to_dict()
        return not node["spec"].get("taints")

    await eventually(untainted)
