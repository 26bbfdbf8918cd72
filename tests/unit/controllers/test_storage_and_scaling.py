"""Pure parts of the storage, disruption and autoscaling controllers."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import pytest

from portico.controllers._disruption import budget_status
from portico.controllers._hpa_algorithm import PodCpu, cpu_proposal, normalize, stabilized
from portico.controllers._persistentvolume import local_volume, matching_volume
from portico.controllers._volume_binding import (
    AFFINITY_CONFLICT,
    UNBOUND_IMMEDIATE,
    claims_of,
)

NOW = datetime.datetime(2026, 12, 7, 12, 0, tzinfo=datetime.UTC)


def claim(name: str = "data", size: str = "1Gi", cls: str = "default", **spec: Any) -> Any:
    return {"metadata": {"name": name, "namespace": "ns", "uid": "u-1"},
            "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": cls,
                     "resources": {"requests": {"storage": size}}, **spec}}


def volume(name: str, size: str, cls: str = "default", **spec: Any) -> Any:
    return {"metadata": {"name": name}, "spec": {
        "capacity": {"storage": size}, "accessModes": ["ReadWriteOnce", "ReadOnlyMany"],
        "storageClassName": cls, **spec}}


def test_static_binding_picks_the_smallest_fitting_volume() -> None:
    volumes = [volume("big", "10Gi"), volume("small", "512Mi"), volume("fits", "2Gi"),
               volume("other", "1Gi", "slow"), volume("taken", "1Gi", claimRef={"name": "x"})]
    assert matching_volume(claim(), volumes)["metadata"]["name"] == "fits"
    assert matching_volume(claim(size="20Gi"), volumes) is None


def test_local_volume_is_on_the_selected_node(tmp_path: Path) -> None:
    pv = local_volume(claim(), {"metadata": {"name": "default"}, "reclaimPolicy": "Delete"},
                      "node-2", tmp_path)
    assert pv["metadata"]["name"] == "pvc-u-1"
    assert pv["spec"]["hostPath"]["path"] == str(
        tmp_path / "nodes" / "node-2" / "storage" / "pvc-u-1_ns_data")
    assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Delete"
    assert pv["spec"]["claimRef"]["uid"] == "u-1"
    term = pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]
    assert term["matchExpressions"][0]["values"] == ["node-2"]


def pod_with(claim_name: str) -> Any:
    return {"metadata": {"name": "p", "namespace": "ns"}, "spec": {"volumes": [
        {"name": "v", "persistentVolumeClaim": {"claimName": claim_name}}]}}


def node(name: str) -> Any:
    return {"metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}}}


def test_volume_binding_plans() -> None:
    classes = {"default": {"volumeBindingMode": "WaitForFirstConsumer"},
               "now": {"volumeBindingMode": "Immediate"}}
    pv = volume("pv1", "1Gi", nodeAffinity={"required": {"nodeSelectorTerms": [{
        "matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In",
                              "values": ["node-1"]}]}]}})
    bound = claims_of(pod_with("data"), {"ns/data": claim(volumeName="pv1")}, {"pv1": pv},
                      classes)
    assert bound.node_reason(node("node-1")) is None
    assert bound.node_reason(node("node-2")) == AFFINITY_CONFLICT
    assert claims_of(pod_with("x"), {}, {}, classes).error == \
        'persistentvolumeclaim "x" not found'
    assert claims_of(pod_with("data"), {"ns/data": claim(cls="now")}, {}, classes).error == \
        UNBOUND_IMMEDIATE
    waiting = claims_of(pod_with("data"), {"ns/data": claim()}, {}, classes)
    assert waiting.error == "" and len(waiting.to_provision) == 1


def ready_pod(name: str, ready: bool = True, labels: Any = None) -> Any:
    return {"metadata": {"name": name, "labels": labels or {"app": "web"}},
            "status": {"phase": "Running", "conditions": [
                {"type": "Ready", "status": "True" if ready else "False"}]}}


@pytest.mark.parametrize(("spec", "healthy", "desired", "allowed"), [
    pytest.param({"minAvailable": 2}, 3, 2, 1, id="min-int"),
    pytest.param({"minAvailable": "50%"}, 3, 2, 1, id="min-percent-rounds-up"),
    pytest.param({"maxUnavailable": 1}, 3, 3, 0, id="max-int-one-unready"),
    pytest.param({"maxUnavailable": "100%"}, 3, 0, 3, id="max-percent"),
])
def test_budget_status(spec: Any, healthy: int, desired: int, allowed: int) -> None:
    budget = {"metadata": {"name": "b", "generation": 2},
              "spec": {"selector": {"matchLabels": {"app": "web"}}, **spec}}
    pods = [ready_pod("a"), ready_pod("b"), ready_pod("c"), ready_pod("d", ready=False),
            ready_pod("other", labels={"app": "db"})]
    status = budget_status(budget, pods, NOW)
    assert (status["currentHealthy"], status["desiredHealthy"], status["disruptionsAllowed"],
            status["expectedPods"], status["observedGeneration"]) == (
                healthy, desired, allowed, 4, 2)
    assert status["conditions"][0]["reason"] == (
        "SufficientPods" if allowed else "InsufficientPods")


def test_disrupted_pods_are_not_healthy_until_they_expire() -> None:
    budget = {"metadata": {"name": "b"}, "spec": {"minAvailable": 1, "selector": {}},
              "status": {"disruptedPods": {"a": "2026-12-07T11:59:30Z",
                                           "b": "2026-12-07T11:50:00Z"}}}
    status = budget_status(budget, [ready_pod("a"), ready_pod("b")], NOW)
    assert status["currentHealthy"] == 1 and status["disruptedPods"] == {
        "a": "2026-12-07T11:59:30Z"}


@pytest.mark.parametrize(("current", "pods", "target", "replicas"), [
    pytest.param(2, [PodCpu(110, 200), PodCpu(100, 200)], 50, 2, id="within-tolerance"),
    pytest.param(2, [PodCpu(400, 200), PodCpu(400, 200)], 50, 8, id="scale-up"),
    pytest.param(4, [PodCpu(10, 100)] * 4, 50, 1, id="scale-down"),
    pytest.param(2, [PodCpu(400, 200), PodCpu(None, 200)], 50, 4,
                 id="missing-counts-as-zero-up"),
    pytest.param(2, [PodCpu(10, 200), PodCpu(None, 200)], 50, 2,
                 id="missing-counts-as-full-down-flips"),
])
def test_cpu_proposal(current: int, pods: list[PodCpu], target: int, replicas: int) -> None:
    assert cpu_proposal(current, pods, target).replicas == replicas


def test_stabilization_windows() -> None:
    history = [(100.0, 5), (200.0, 3)]
    assert stabilized(2, 4, history, None, 250.0) == 4  # down: highest in 300 s
    assert stabilized(2, 4, history, {"scaleDown": {"stabilizationWindowSeconds": 0}},
                      250.0) == 2
    assert stabilized(8, 4, history, {"scaleUp": {"stabilizationWindowSeconds": 120}},
                      250.0) == 4  # up: lowest recommendation in the window


@pytest.mark.parametrize(("desired", "current", "spec", "events", "expected", "reason"), [
    pytest.param(20, 2, {"maxReplicas": 50}, [], 6, "ScaleUpLimit", id="max-of-4-pods-100pc"),
    pytest.param(20, 10, {"maxReplicas": 50}, [], 20, "", id="percent-allows-double"),
    pytest.param(20, 10, {"maxReplicas": 50}, [(95.0, 5)], 10, "ScaleUpLimit",
                 id="recent-scale-counts-from-period-start"),
    pytest.param(9, 4, {"maxReplicas": 6}, [], 6, "TooManyReplicas", id="max"),
    pytest.param(1, 4, {"minReplicas": 2, "maxReplicas": 6}, [], 2, "TooFewReplicas",
                 id="min"),
    pytest.param(8, 4, {"maxReplicas": 9, "behavior": {"scaleUp": {"selectPolicy": "Disabled"}}},
                 [], 4, "ScaleUpLimit", id="disabled"),
])
def test_normalize(desired: int, current: int, spec: Any, events: list[tuple[float, int]],
                   expected: int, reason: str) -> None:
    limited = normalize(desired, current, spec, events, 100.0)
    assert (limited.replicas, limited.reason) == (expected, reason)
