"""Validation texts and table cells of the storage, policy, autoscaling and metrics kinds."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from portico.apiserver._eviction import budget_refusal
from portico.apiserver.resources.horizontalpodautoscalers import HORIZONTALPODAUTOSCALERS, targets
from portico.apiserver.resources.persistentvolumeclaims import PERSISTENTVOLUMECLAIMS
from portico.apiserver.resources.persistentvolumes import PERSISTENTVOLUMES
from portico.apiserver.resources.poddisruptionbudgets import PODDISRUPTIONBUDGETS
from portico.apiserver.resources.storageclasses import STORAGECLASSES

NOW = datetime.datetime(2026, 12, 7, tzinfo=datetime.UTC)


def messages(errs: list[Any]) -> list[str]:
    return [e.message() for e in errs]


def pvc(size: str = "1Gi", **spec: Any) -> Any:
    obj = {"metadata": {"name": "data"}, "spec": {
        "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}},
        "storageClassName": "default", **spec}, "status": {"phase": "Bound"}}
    PERSISTENTVOLUMECLAIMS.strategy.default(obj)
    return obj


def test_claim_create_rules() -> None:
    strategy = PERSISTENTVOLUMECLAIMS.strategy
    assert messages(strategy.validate({"spec": {"resources": {"requests": {}}}})) == [
        "spec.accessModes: Required value: at least 1 access mode is required",
        "spec.resources[storage]: Required value",
        'spec.volumeMode: Unsupported value: null: supported values: "Block", "Filesystem"']
    assert messages(strategy.validate(pvc("0"))) == [
        'spec.resources[storage]: Invalid value: "0": must be greater than zero']


def test_claim_update_rules() -> None:
    strategy = PERSISTENTVOLUMECLAIMS.strategy
    assert strategy.validate_update(pvc("2Gi"), pvc()) == []
    assert strategy.validate_update(pvc(volumeName="pv-1"), pvc()) == []
    assert messages(strategy.validate_update(pvc("512Mi"), pvc())) == [
        "spec.resources.requests.storage: Forbidden: field can not be less than previous value"]
    changed = messages(strategy.validate_update(pvc(accessModes=["ReadWriteMany"]), pvc()))
    assert changed[0].startswith(
        "spec: Forbidden: spec is immutable after creation except resources.requests and "
        "volumeAttributesClassName for bound claims\n")
    unbound = pvc()
    unbound["status"] = {"phase": "Pending"}
    assert messages(strategy.validate_update(pvc("2Gi"), unbound))[0].startswith("spec: ")


def test_storage_class_rules_and_cells() -> None:
    strategy = STORAGECLASSES.strategy
    sc = {"metadata": {"name": "fast", "annotations": {
        "storageclass.kubernetes.io/is-default-class": "true"}}, "provisioner": "x"}
    strategy.default(sc)
    assert (sc["reclaimPolicy"], sc["volumeBindingMode"]) == ("Delete", "Immediate")
    changed = {**sc, "provisioner": "y", "reclaimPolicy": "Retain"}
    assert messages(strategy.validate_update(changed, sc)) == [
        "provisioner: Forbidden: updates to provisioner are forbidden.",
        "reclaimPolicy: Forbidden: updates to reclaimPolicy are forbidden."]
    assert STORAGECLASSES.table.cells(sc, NOW)[:5] == [
        "fast (default)", "x", "Delete", "Immediate", False]


def test_persistent_volume_needs_a_source() -> None:
    pv = {"spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"]}}
    PERSISTENTVOLUMES.strategy.default(pv)
    assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Retain"
    assert messages(PERSISTENTVOLUMES.strategy.validate(pv)) == [
        "spec: Required value: must specify a volume type"]


@pytest.mark.parametrize(("spec", "expected"), [
    pytest.param({"minAvailable": 1, "maxUnavailable": 1},
                 "minAvailable and maxUnavailable cannot be both set", id="both"),
    pytest.param({"minAvailable": "120%"}, "spec.minAvailable: Invalid value: \"120%\": must "
                 "not be greater than 100%", id="percent"),
    pytest.param({"maxUnavailable": -1}, "spec.maxUnavailable: Invalid value: -1: must be "
                 "greater than or equal to 0", id="negative"),
])
def test_budget_validation(spec: Any, expected: str) -> None:
    errs = messages(PODDISRUPTIONBUDGETS.strategy.validate({"spec": spec}))
    assert any(expected in e for e in errs), errs


def test_eviction_refusals() -> None:
    budget = {"metadata": {"name": "web", "generation": 1}, "status": {
        "observedGeneration": 1, "disruptionsAllowed": 0, "desiredHealthy": 2,
        "currentHealthy": 2}}
    assert budget_refusal(budget) == "The disruption budget web needs 2 healthy pods and has " \
        "2 currently"
    assert budget_refusal({**budget, "metadata": {"name": "web", "generation": 2}}) == \
        "The disruption budget web is still being processed by the server."
    assert budget_refusal({**budget, "status": {**budget["status"],
                                                "disruptionsAllowed": 1}}) is None


def test_autoscaler_defaults_validation_and_targets() -> None:
    strategy = HORIZONTALPODAUTOSCALERS.strategy
    hpa: dict[str, Any] = {"spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"},
                                    "maxReplicas": 3}}
    strategy.default(hpa)
    assert hpa["spec"]["minReplicas"] == 1
    assert targets(hpa) == "cpu: <unknown>/80%"
    hpa["status"] = {"currentMetrics": [{"type": "Resource", "resource": {
        "name": "cpu", "current": {"averageUtilization": 12}}}]}
    assert targets(hpa) == "cpu: 12%/80%"
    bad = {"spec": {"scaleTargetRef": {}, "minReplicas": 4, "maxReplicas": 2}}
    assert messages(strategy.validate(bad)) == [
        "spec.scaleTargetRef.kind: Required value", "spec.scaleTargetRef.name: Required value",
        "spec.maxReplicas: Invalid value: 2: must be greater than or equal to `minReplicas`"]


@pytest.mark.parametrize(("text", "value"), [
    pytest.param("1Gi", 2**30, id="binary"), pytest.param("250m", 0.25, id="milli"),
    pytest.param("1e3", 1000, id="exponent"), pytest.param("2k", 2000, id="decimal"),
])
def test_quantities(text: str, value: float) -> None:
    from portico.model.quantity import milli_value, parse_quantity

    assert parse_quantity(text) == value
    assert milli_value(text) == int(value * 1000)
