"""HorizontalPodAutoscalers served as autoscaling/v1 and v2 from one stored object."""

from __future__ import annotations

import copy
import datetime
from typing import Any

import orjson
import pytest

from portico.apiserver.registry import PatchType, Registry, WriteOptions
from portico.apiserver.resources._hpa_versions import (
    CONDITIONS,
    CURRENT_METRICS,
    METRICS,
    to_v1,
    to_v2,
)
from portico.apiserver.resources.horizontalpodautoscalers import (
    HORIZONTALPODAUTOSCALERS,
    HORIZONTALPODAUTOSCALERS_V1,
)
from portico.apiserver.resources.services import ServiceConfig
from portico.apiserver.server import resources_for
from portico.store import SqliteStore

CPU = {"type": "Resource", "resource": {"name": "cpu", "target": {
    "type": "Utilization", "averageUtilization": 60}}}
MEMORY = {"type": "Resource", "resource": {"name": "memory", "target": {
    "type": "AverageValue", "averageValue": "100Mi"}}}
PODS = {"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {
    "type": "AverageValue", "averageValue": "10"}}}
CONDITION = {"type": "AbleToScale", "status": "True", "reason": "ReadyForNewScale",
             "lastTransitionTime": "2026-01-01T00:00:00Z"}


def stored(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web", "namespace": "ns", "annotations": {"team": "a"}},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                                        "name": "web"},
                     "minReplicas": 1, "maxReplicas": 5, **spec},
            "status": {"currentReplicas": 2, "desiredReplicas": 3, "conditions": [CONDITION],
                       "currentMetrics": [{"type": "Resource", "resource": {
                           "name": "cpu", "current": {"averageUtilization": 42}}}]}}


def test_v1_carries_what_it_cannot_hold_in_annotations() -> None:
    behavior = {"scaleDown": {"stabilizationWindowSeconds": 60}}
    obj = stored(metrics=[CPU, MEMORY, PODS], behavior=behavior)
    v1 = to_v1(obj)
    assert v1["apiVersion"] == "autoscaling/v1"
    assert v1["spec"]["targetCPUUtilizationPercentage"] == 60
    assert "metrics" not in v1["spec"] and "behavior" not in v1["spec"]
    assert v1["status"] == {"currentReplicas": 2, "desiredReplicas": 3,
                            "currentCPUUtilizationPercentage": 42}
    notes = v1["metadata"]["annotations"]
    assert orjson.loads(notes[METRICS]) == [
        {"type": "Resource", "resource": {"name": "memory", "targetAverageValue": "100Mi"}},
        {"type": "Pods", "pods": {"metricName": "qps", "targetAverageValue": "10"}}]
    assert orjson.loads(notes[CURRENT_METRICS]) == [
        {"type": "Resource", "resource": {"name": "cpu", "currentAverageUtilization": 42}}]
    assert orjson.loads(notes[CONDITIONS]) == [CONDITION]
    assert notes["team"] == "a"
    assert to_v2(v1) == obj  # and back, annotations taken out again


def test_v1_without_cpu_target_and_stale_annotations() -> None:
    obj = stored(metrics=[MEMORY])
    obj["metadata"]["annotations"][METRICS] = "[]"  # set by hand on v2: replaced on reads
    v1 = to_v1(obj)
    assert "targetCPUUtilizationPercentage" not in v1["spec"]
    assert orjson.loads(v1["metadata"]["annotations"][METRICS])[0]["resource"]["name"] \
        == "memory"
    plain = to_v2({"apiVersion": "autoscaling/v1", "metadata": {"name": "x"},
                   "spec": {"maxReplicas": 3, "targetCPUUtilizationPercentage": 50}})
    assert plain["spec"]["metrics"] == [{"type": "Resource", "resource": {
        "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}]
    assert "annotations" not in plain["metadata"]


@pytest.fixture
def registry(tmp_path):
    store = SqliteStore(tmp_path / "db.sqlite")
    reg = Registry(store, resources_for(ServiceConfig()))
    reg.create(reg.find("", "v1", "namespaces"), "", {
        "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns"}}, WriteOptions())
    yield reg
    store.close()


def test_one_object_served_under_both_versions(registry: Registry) -> None:
    v1, v2 = HORIZONTALPODAUTOSCALERS_V1, HORIZONTALPODAUTOSCALERS
    assert registry.find("autoscaling", "v1", "horizontalpodautoscalers") is not None
    body = {"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web"},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                                        "name": "web"},
                     "maxReplicas": 5, "targetCPUUtilizationPercentage": 50}}
    created = registry.create(v1, "ns", copy.deepcopy(body), WriteOptions())
    assert created["apiVersion"] == "autoscaling/v1" and created["spec"]["minReplicas"] == 1
    as_v2 = registry.get(v2, "ns", "web")
    assert as_v2["apiVersion"] == "autoscaling/v2"
    assert as_v2["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 50
    again = registry.update(v1, "ns", "web", registry.get(v1, "ns", "web"), "", WriteOptions())
    assert again["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    registry.patch(v2, "ns", "web", PatchType.MERGE,
                   {"spec": {"metrics": [CPU, MEMORY]}}, "", WriteOptions())
    patched = registry.patch(v1, "ns", "web", PatchType.MERGE,
                             {"spec": {"targetCPUUtilizationPercentage": 70}}, "", WriteOptions())
    assert patched["spec"]["targetCPUUtilizationPercentage"] == 70
    metrics = registry.get(v2, "ns", "web")["spec"]["metrics"]
    assert [m["resource"]["name"] for m in metrics] == ["cpu", "memory"]
    assert metrics[0]["resource"]["target"]["averageUtilization"] == 70
    assert "annotations" not in registry.get(v2, "ns", "web")["metadata"]
    invalid = copy.deepcopy(body)
    invalid["metadata"]["name"], invalid["spec"]["maxReplicas"] = "bad", 0
    with pytest.raises(Exception, match="spec.maxReplicas"):
        registry.create(v1, "ns", invalid, WriteOptions())
    now = datetime.datetime.now(datetime.UTC)
    assert v1.table.cells(patched, now)[2] == "cpu: <unknown>/70%, memory: <unknown>/100Mi"
