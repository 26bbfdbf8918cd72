"""Scheduling on 3 real nodes in 3 zones: pod anti-affinity and topology spread.

One `portico up --nodes 3` (node-I in zone eastus-I); the test works in a fresh
namespace with pause pods (placement is all that matters here).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from portico.testing.sandbox import Cluster, wait_for
from tests.conftest import Kubectl
from tests.e2e.cluster_support import NODES, PodView, deployment, dump, pods, running_cluster

PAUSE = "registry.k8s.io/pause:3.10"
HOST = "kubernetes.io/hostname"
ZONE = "topology.kubernetes.io/zone"
ALL_NODES = [f"node-{i}" for i in range(1, NODES + 1)]


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    yield from running_cluster()


def pause_deployment(name: str, replicas: int, **pod_spec: Any) -> dict[str, Any]:
    return deployment(name, replicas, {"containers": [{"name": "pause", "image": PAUSE}],
                                       "terminationGracePeriodSeconds": 0, **pod_spec})


def placed(k: Kubectl, app: str, count: int) -> list[PodView]:
    """Wait until `count` pods of app=<app> exist and every one of them is on a node."""
    def done() -> list[PodView] | None:
        current = pods(k, f"app={app}")
        return current if len(current) == count and all(p.node for p in current) else None
    return wait_for(done, 60, interval=0.2, message=f"{count} scheduled pods app={app}")


def failed_scheduling(k: Kubectl, pod_name: str) -> list[str]:
    events = k.json("get", "events")["items"]
    return [e["message"] for e in events if e["reason"] == "FailedScheduling"
            and e["involvedObject"]["name"] == pod_name]


def test_anti_affinity_by_host_and_zone_spread(kubectl133: Kubectl) -> None:
    k = kubectl133
    anti = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "solo"}}, "topologyKey": HOST}]}}
    k.ok("apply", "-f", "-", input=dump(pause_deployment("solo", 3, affinity=anti)))
    solo = placed(k, "solo", 3)
    assert sorted(p.node for p in solo) == ALL_NODES

    k.ok("scale", "deployment/solo", "--replicas=4")
    expected = "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules."

    def pending() -> str | None:
        unbound = [p for p in pods(k, "app=solo") if not p.node]
        return unbound[0].name if unbound and expected in failed_scheduling(
            k, unbound[0].name) else None

    fourth = wait_for(pending, 60, interval=0.2, message="FailedScheduling of the 4th replica")
    scheduled = [c for c in k.json("get", "pod", fourth)["status"]["conditions"]
                 if c["type"] == "PodScheduled"]
    assert [(c["status"], c["reason"], c["message"]) for c in scheduled] == [
        ("False", "Unschedulable", expected)]

    # ballast on node-1: spreading by pod count alone would avoid it
    k.ok("apply", "-f", "-", input=dump(pause_deployment("ballast", 3,
                                                         nodeSelector={HOST: "node-1"})))
    assert {p.node for p in placed(k, "ballast", 3)} == {"node-1"}
    spread = [{"maxSkew": 1, "topologyKey": ZONE, "whenUnsatisfiable": "DoNotSchedule",
               "labelSelector": {"matchLabels": {"app": "zonal"}}}]
    k.ok("apply", "-f", "-", input=dump(pause_deployment("zonal", 6,
                                                         topologySpreadConstraints=spread)))
    zones = {n["metadata"]["name"]: n["metadata"]["labels"][ZONE]
             for n in k.json("get", "nodes")["items"]}
    assert sorted(zones.values()) == ["eastus-1", "eastus-2", "eastus-3"]
    per_zone = Counter(zones[p.node] for p in placed(k, "zonal", 6))
    assert per_zone == {zone: 2 for zone in zones.values()}

    # the 4th solo replica is still pending, the other three where they were
    final = {p.name: p for p in pods(k, "app=solo")}
    assert (final[fourth].node, final[fourth].phase) == ("", "Pending")
    assert {final[p.name].node for p in solo} == set(ALL_NODES)
