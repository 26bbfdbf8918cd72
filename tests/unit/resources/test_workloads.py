"""Deployments and ReplicaSets: defaults, selector/template validation, cells."""

from __future__ import annotations

import copy
import datetime

import pytest

from portico.apiserver.resources.deployments import DEPLOYMENTS
from portico.apiserver.resources.replicasets import REPLICASETS

NOW = datetime.datetime(2025, 1, 1, 12, 0, 0, tzinfo=datetime.UTC)
TEMPLATE_DEFAULTS = {
    "imagePullPolicy": "Always", "terminationMessagePath": "/dev/termination-log",
    "terminationMessagePolicy": "File", "resources": {},
}


def _deploy(labels: dict | None = None, **spec) -> dict:
    return {
        "metadata": {"name": "web", "namespace": "default",
                     "creationTimestamp": "2025-01-01T11:00:00Z"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": labels if labels is not None else {"app": "web"}},
                         "spec": {"containers": [{"name": "nginx", "image": "nginx"}]}},
            **spec,
        },
    }


def test_deployment_defaults() -> None:
    obj = _deploy()
    DEPLOYMENTS.strategy.default(obj)
    DEPLOYMENTS.strategy.prepare_for_create(obj)
    assert obj["spec"] == {
        "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
            "containers": [{"name": "nginx", "image": "nginx", **TEMPLATE_DEFAULTS}],
            "dnsPolicy": "ClusterFirst", "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30, "securityContext": {},
            "schedulerName": "default-scheduler",
        }},
        "replicas": 1,
        "strategy": {"type": "RollingUpdate",
                     "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
        "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600,
    }
    assert obj["status"] == {}


@pytest.mark.parametrize(("obj", "want"), [
    pytest.param(_deploy(), [], id="ok"),
    pytest.param(
        _deploy({"app": "api", "tier": "x"}),
        ['spec.template.metadata.labels: Invalid value: map[string]string{"app":"api", '
         '"tier":"x"}: `selector` does not match template `labels`'],
        id="selector-mismatch"),
    pytest.param(_deploy(replicas=-1),
                 ["spec.replicas: Invalid value: -1: must be greater than or equal to 0"],
                 id="negative-replicas"),
    pytest.param(
        {"metadata": {"name": "web"}, "spec": {"template": _deploy()["spec"]["template"]}},
        ["spec.selector: Required value"], id="no-selector"),
    pytest.param(
        _deploy(strategy={"type": "Recreate", "rollingUpdate": {}}),
        ["spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is "
         "'Recreate'"],
        id="recreate-rolling"),
])
def test_deployment_validate(obj: dict, want: list[str]) -> None:
    obj = copy.deepcopy(obj)
    DEPLOYMENTS.strategy.default(obj)
    assert [e.message() for e in DEPLOYMENTS.strategy.validate(obj)] == want


def test_selector_immutable() -> None:
    old = _deploy()
    DEPLOYMENTS.strategy.default(old)
    new = copy.deepcopy(old)
    new["spec"]["selector"] = {"matchLabels": {"app": "web", "v": "2"}}
    new["spec"]["template"]["metadata"]["labels"]["v"] = "2"
    assert [e.message() for e in DEPLOYMENTS.strategy.validate_update(new, old)] == [
        'spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":'
        '"web", "v":"2"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is '
        "immutable"
    ]


def test_deployment_cells_and_status() -> None:
    obj = _deploy(replicas=3)
    obj["status"] = {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}
    assert DEPLOYMENTS.table.cells(obj, NOW) == [
        "web", "2/3", 3, 2, "60m", "nginx", "nginx", "app=web"
    ]
    new = copy.deepcopy(obj)
    new["status"] = {}
    DEPLOYMENTS.strategy.prepare_for_update(new, obj)
    assert new["status"] == obj["status"]


def test_replicaset_defaults_and_cells() -> None:
    obj = _deploy()
    REPLICASETS.strategy.default(obj)
    REPLICASETS.strategy.prepare_for_create(obj)
    assert (obj["spec"]["replicas"], obj["status"]) == (1, {"replicas": 0})
    obj["status"] = {"replicas": 1, "readyReplicas": 1}
    assert REPLICASETS.table.cells(obj, NOW) == [
        "web", 1, 1, 1, "60m", "nginx", "nginx", "app=web"
    ]
    assert REPLICASETS.field_selectors["status.replicas"](obj) == "1"


def test_discovery_facts() -> None:
    scale = DEPLOYMENTS.subresource("scale")
    assert scale is not None
    assert (scale.kind, scale.group, scale.version) == ("Scale", "autoscaling", "v1")
    assert (DEPLOYMENTS.short_names, DEPLOYMENTS.categories) == (("deploy",), ("all",))
    assert REPLICASETS.short_names == ("rs",)
