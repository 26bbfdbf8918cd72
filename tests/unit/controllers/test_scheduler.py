"""The scheduler: the pure filter/score, then binding against the real API server."""

from __future__ import annotations

from collections import Counter

import pytest
from lightkube.resources.core_v1 import Event, Pod

from portico.controllers._scheduler import schedule
from tests.unit.controllers.conftest import eventually


def node(name: str, labels: dict | None = None, ready: str = "True", **spec) -> dict:
    return {"metadata": {"name": name, "labels": labels or {}}, "spec": spec,
            "status": {"conditions": [{"type": "Ready", "status": ready}]}}


def pod(**spec) -> dict:
    return {"metadata": {"name": "p", "namespace": "default"}, "spec": spec}


UNREACHABLE = {"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule"}


@pytest.mark.parametrize(("the_pod", "nodes", "load", "expected"), [
    pytest.param(pod(), [node("a"), node("b")], {"a": 2, "b": 1}, ("b", ""), id="least-loaded"),
    pytest.param(pod(), [node("b"), node("a")], {}, ("a", ""), id="tie-by-name"),
    pytest.param(pod(nodeSelector={"disk": "ssd"}), [node("a"), node("b", {"disk": "ssd"})],
                 {"b": 5}, ("b", ""), id="node-selector"),
    pytest.param(pod(nodeSelector={"disk": "ssd"}), [node("a"), node("b"), node("c")], {},
                 (None, "0/3 nodes are available: 3 node(s) didn't match Pod's node "
                        "affinity/selector."), id="unschedulable-selector"),
    pytest.param(pod(), [node("a", ready="False"), node("b", unschedulable=True),
                         node("c", taints=[UNREACHABLE])], {},
                 (None, "0/3 nodes are available: 1 node(s) had untolerated taint "
                        "{node.kubernetes.io/unreachable: }, 1 node(s) were not ready, "
                        "1 node(s) were unschedulable."), id="not-ready-cordoned-tainted"),
    pytest.param(pod(tolerations=[{"key": "node.kubernetes.io/unreachable",
                                   "operator": "Exists"}]),
                 [node("c", taints=[UNREACHABLE])], {}, ("c", ""), id="tolerated-taint"),
    pytest.param(pod(affinity={"nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "zone", "operator": "NotIn", "values": ["1"]}]}]}}}),
        [node("a", {"zone": "1"}), node("b", {"zone": "2"})], {"b": 9}, ("b", ""),
        id="affinity-notin"),
    pytest.param(pod(), [], {}, (None, "no nodes available to schedule pods"), id="no-nodes"),
])
def test_schedule(the_pod, nodes, load, expected):
    decision = schedule(the_pod, nodes, Counter(load))
    assert (decision.node, decision.message) == expected


def bare_pod(name: str, **spec) -> Pod:
    return Pod.from_dict({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                          "spec": {"containers": [{"name": "c", "image": "pause"}], **spec}})


async def test_spreads_pods_and_reports_unschedulable(cluster_factory):
    c = await cluster_factory("scheduler")
    for name in ("node-1", "node-2", "node-3"):
        await c.add_node(name)
    for i in range(6):
        await c.client.create(bare_pod(f"p{i}"), namespace="default")
    await c.client.create(bare_pod("picky", nodeSelector={"disk": "ssd"}), namespace="default")

    async def placed():
        pods = {p["metadata"]["name"]: p for p in await c.pods()}
        nodes = Counter(p["spec"].get("nodeName") for n, p in pods.items() if n != "picky")
        return nodes == Counter({"node-1": 2, "node-2": 2, "node-3": 2}) and pods

    pods = await eventually(placed)
    scheduled = [c for c in pods["p0"]["status"]["conditions"] if c["type"] == "PodScheduled"]
    assert [(c["status"], c.get("reason")) for c in scheduled] == [("True", None)]

    async def refused():
        got = (await c.client.get(Pod, "picky", namespace="default")).to_dict()
        return [c for c in got["status"].get("conditions", []) if c["type"] == "PodScheduled"]

    cond = (await eventually(refused))[0]
    assert (cond["status"], cond["reason"], cond["message"]) == (
        "False", "Unschedulable",
        "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector.")

    async def events():
        got = [e.to_dict() async for e in c.client.list(Event, namespace="default")]
        return sorted((e["reason"], e["message"]) for e in got
                      if e["involvedObject"]["name"] in ("p0", "picky"))

    assert await eventually(events) == [
        ("FailedScheduling",
         "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector."),
        ("Scheduled", f"Successfully assigned default/p0 to {pods['p0']['spec']['nodeName']}"),
    ]
    scheduled_event = [e.to_dict() async for e in c.client.list(Event, namespace="default")
                       if e.reason == "Scheduled"][0]
    assert (scheduled_event["source"], scheduled_event["reportingComponent"],
            scheduled_event["count"]) == ({"component": "default-scheduler"},
                                          "default-scheduler", 1)
    # a matching node appears: the pending pod is scheduled there
    await c.add_node("node-4", labels={"disk": "ssd"})

    async def picky_bound():
        got = (await c.client.get(Pod, "picky", namespace="default")).to_dict()
        return got["spec"].get("nodeName")

    assert await eventually(picky_bound) == "node-4"
