"""The scheduler: node filters and the count spread, then binding against the real API server.

Topology spread and inter-pod (anti-)affinity are in test_placement.py.
"""

from __future__ import annotations

from collections import Counter

import pytest

from portico.controllers._placement import schedule
from portico.model.kinds import EVENT, POD
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
    bound = [{"metadata": {"name": f"{node}-{i}", "namespace": "default"},
              "spec": {"nodeName": node}} for node, count in load.items() for i in range(count)]
    decision = schedule(the_pod, nodes, bound)
    assert (decision.node, decision.message) == expected


def bare_pod(name: str, **spec) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "pause"}], **spec}}


async def test_spreads_pods_and_reports_unschedulable(cluster_factory):
    c = await cluster_factory("scheduler")
    for name in ("node-1", "node-2", "node-3"):
        await c.add_node(name)
    for i in range(6):
        await c.client.create(POD, bare_pod(f"p{i}"), namespace="default")
    await c.client.create(POD, bare_pod("picky", nodeSelector={"disk": "ssd"}), namespace="default")

    async def placed():
        pods = {p["metadata"]["name"]: p for p in await c.pods()}
        nodes = Counter(p["spec"].get("nodeName") for n, p in pods.items() if n != "picky")
        return nodes == Counter({"node-1": 2, "node-2": 2, "node-3": 2}) and pods

    pods = await eventually(placed)
    scheduled = [c for c in pods["p0"]["status"]["conditions"] if c["type"] == "PodScheduled"]
    assert [(c["status"], c.get("reason")) for c in scheduled] == [("True", None)]

    async def refused():
        got = await c.client.get(POD, "picky", namespace="default")
        return [c for c in got["status"].get("conditions", []) if c["type"] == "PodScheduled"]

    cond = (await eventually(refused))[0]
    assert (cond["status"], cond["reason"], cond["message"]) == (
        "False", "Unschedulable",
        "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector.")

    async def events():
        got = (await c.client.list(EVENT, namespace="default")).items
        return sorted((e["reason"], e["message"]) for e in got
                      if e["involvedObject"]["name"] in ("p0", "picky"))

    assert await eventually(events) == [
        ("FailedScheduling",
         "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector."),
        ("Scheduled", f"Successfully assigned default/p0 to {pods['p0']['spec']['nodeName']}"),
    ]
    scheduled_event = [e for e in (await c.client.list(EVENT, namespace="default")).items
                       if e.get("reason") == "Scheduled"][0]
    assert (scheduled_event["source"], scheduled_event["reportingComponent"],
            scheduled_event["count"]) == ({"component": "default-scheduler"},
                                          "default-scheduler", 1)
    # a matching node appears: the pending pod is scheduled there
    await c.add_node("node-4", labels={"disk": "ssd"})

    async def picky_bound():
        got = await c.client.get(POD, "picky", namespace="default")
        return got["spec"].get("nodeName")

    assert await eventually(picky_bound) == "node-4"


HOST = "kubernetes.io/hostname"


def labelled_pod(name: str, app: str, **spec) -> dict:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": {"app": app}},
            "spec": {"containers": [{"name": "c", "image": "pause"}], **spec}}


def required(kind: str, app: str) -> dict:
    return {kind: {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": app}}, "topologyKey": HOST}]}}


async def test_pod_affinity_sees_assumed_pods_and_waits_for_peers(cluster_factory):
    c = await cluster_factory("scheduler")
    for name in ("node-1", "node-2", "node-3"):
        await c.add_node(name, labels={HOST: name})
    for i in range(4):  # created at once: each placement must see the ones just bound
        await c.client.create(POD, labelled_pod(f"a{i}", "anti", affinity=required(
            "podAntiAffinity", "anti")), namespace="default")
    await c.client.create(POD, labelled_pod("follower", "web", affinity=required(
        "podAffinity", "db")), namespace="default")

    async def scheduled() -> dict:
        pods = {p["metadata"]["name"]: p for p in await c.pods()}
        refused = {n: cond["message"] for n, p in pods.items()
                   for cond in p["status"].get("conditions", [])
                   if cond["type"] == "PodScheduled" and cond["status"] == "False"}
        bound = {n: p["spec"]["nodeName"] for n, p in pods.items() if p["spec"].get("nodeName")}
        return len(bound) == 3 and len(refused) == 2 and (bound, refused)

    bound, refused = await eventually(scheduled)
    assert sorted(bound.values()) == ["node-1", "node-2", "node-3"]
    (pending,) = {"a0", "a1", "a2", "a3"} - set(bound)
    assert refused == {
        pending: "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules.",
        "follower": "0/3 nodes are available: 3 node(s) didn't match pod affinity rules."}

    # a peer lands (pinned by nodeSelector): the follower joins it
    await c.client.create(POD, labelled_pod("db", "db", nodeSelector={HOST: "node-2"}),
                          namespace="default")
    # an anti pod goes away: the pending one takes its node
    gone = sorted(bound)[0]
    await c.client.delete(POD, gone, namespace="default", grace_period=0)

    async def placed() -> dict:
        pods = {p["metadata"]["name"]: p["spec"].get("nodeName") for p in await c.pods()}
        return pods.get("follower") and pods.get(pending) and pods

    pods = await eventually(placed)
    assert (pods["follower"], pods[pending]) == ("node-2", bound[gone])
