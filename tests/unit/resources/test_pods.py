"""Pods: defaults, create-time status, validation, table cells, field selectors."""

from __future__ import annotations

import copy
import datetime

import pytest

from portico.apiserver.resources.pods import PODS

NOW = datetime.datetime(2025, 1, 1, 12, 0, 0, tzinfo=datetime.UTC)
CREATED = "2025-01-01T11:50:00Z"


def _pod(status: dict | None = None, **spec_extra) -> dict:
    spec = {"containers": [{"name": "web", "image": "nginx"}], "nodeName": "n1", **spec_extra}
    pod = {"metadata": {"name": "p", "namespace": "default", "creationTimestamp": CREATED},
           "spec": spec}
    if status is not None:
        pod["status"] = status
    return pod


def test_defaults_and_create_status() -> None:
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [
        {"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 80}],
         "readinessProbe": {"httpGet": {"port": 80}}},
    ]}}
    PODS.strategy.default(pod)
    PODS.strategy.prepare_for_create(pod)
    assert pod["spec"] == {
        "containers": [{
            "name": "web", "image": "nginx:1.27",
            "ports": [{"containerPort": 80, "protocol": "TCP"}],
            "readinessProbe": {"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"},
                               "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1,
                               "failureThreshold": 3},
            "imagePullPolicy": "IfNotPresent", "terminationMessagePath": "/dev/termination-log",
            "terminationMessagePolicy": "File", "resources": {},
        }],
        "dnsPolicy": "ClusterFirst", "restartPolicy": "Always",
        "terminationGracePeriodSeconds": 30, "securityContext": {},
        "schedulerName": "default-scheduler", "enableServiceLinks": True,
        "serviceAccountName": "default", "serviceAccount": "default", "priority": 0,
        "preemptionPolicy": "PreemptLowerPriority",
        "tolerations": [
            {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
             "tolerationSeconds": 300},
            {"key": "node.kubernetes.io/unreachable", "operator": "Exists",
             "effect": "NoExecute", "tolerationSeconds": 300},
        ],
    }
    assert pod["status"] == {"phase": "Pending", "qosClass": "BestEffort"}


@pytest.mark.parametrize(("image", "policy"), [
    pytest.param("nginx", "Always", id="untagged"),
    pytest.param("nginx:latest", "Always", id="latest"),
    pytest.param("localhost:5000/nginx", "Always", id="registry-port"),
    pytest.param("nginx:1.27", "IfNotPresent", id="tagged"),
    pytest.param("nginx@sha256:abc", "IfNotPresent", id="digest"),
])
def test_image_pull_policy(image: str, policy: str) -> None:
    pod = {"spec": {"containers": [{"name": "c", "image": image}]}}
    PODS.strategy.default(pod)
    assert pod["spec"]["containers"][0]["imagePullPolicy"] == policy


@pytest.mark.parametrize(("containers", "want"), [
    pytest.param([], ["spec.containers: Required value"], id="no-containers"),
    pytest.param([{"name": "web"}], ["spec.containers[0].image: Required value"], id="no-image"),
    pytest.param(
        [{"name": "Web", "image": "x"}],
        ["spec.containers[0].name: Invalid value: \"Web\": a lowercase RFC 1123 label must "
         "consist of lower case alphanumeric characters or '-', and must start and end with an "
         "alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
         "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"],
        id="bad-name"),
    pytest.param([{"name": "a", "image": "x"}, {"name": "a", "image": "y"}],
                 ['spec.containers[1].name: Duplicate value: "a"'], id="duplicate"),
    pytest.param(
        [{"name": "a", "image": "x", "ports": [{"containerPort": 70000, "protocol": "HTTP"}]}],
        ["spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 "
         "and 65535, inclusive",
         'spec.containers[0].ports[0].protocol: Unsupported value: "HTTP": supported values: '
         '"SCTP", "TCP", "UDP"'],
        id="ports"),
])
def test_validate(containers: list, want: list[str]) -> None:
    pod = {"metadata": {"name": "p"}, "spec": {"containers": containers}}
    PODS.strategy.default(pod)
    assert [e.message() for e in PODS.strategy.validate(pod)] == want


def test_update_may_change_image_only() -> None:
    old = _pod()
    PODS.strategy.default(old)
    new = copy.deepcopy(old)
    new["spec"]["containers"][0]["image"] = "nginx:2"
    assert PODS.strategy.validate_update(new, old) == []
    new["spec"]["nodeName"] = "n2"
    assert [e.message() for e in PODS.strategy.validate_update(new, old)][0].startswith(
        "spec: Forbidden: pod updates may not change fields other than"
    )


RUNNING = {"running": {"startedAt": CREATED}}


@pytest.mark.parametrize(("status", "extra", "cells"), [
    pytest.param({"phase": "Pending"}, {}, ["0/1", "Pending", "0"], id="pending"),
    pytest.param(
        {"phase": "Pending", "containerStatuses": [
            {"name": "web", "ready": False, "restartCount": 0,
             "state": {"waiting": {"reason": "ContainerCreating"}}}]},
        {}, ["0/1", "ContainerCreating", "0"], id="creating"),
    pytest.param(
        {"phase": "Running", "podIPs": [{"ip": "10.0.0.5"}], "containerStatuses": [
            {"name": "web", "ready": True, "restartCount": 0, "state": RUNNING}]},
        {}, ["1/1", "Running", "0"], id="running"),
    pytest.param(
        {"phase": "Running", "containerStatuses": [
            {"name": "web", "ready": False, "restartCount": 3,
             "state": {"waiting": {"reason": "CrashLoopBackOff"}},
             "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2025-01-01T11:55:00Z"}}}]},
        {}, ["0/1", "CrashLoopBackOff", "3 (5m ago)"], id="crashloop"),
    pytest.param(
        {"phase": "Running", "containerStatuses": [
            {"name": "web", "ready": True, "restartCount": 0, "state": RUNNING}]},
        {"deletionTimestamp": "2025-01-01T11:59:00Z"}, ["1/1", "Terminating", "0"],
        id="terminating"),
    pytest.param(
        {"phase": "Pending", "initContainerStatuses": [
            {"name": "init", "ready": False, "restartCount": 0,
             "state": {"waiting": {"reason": "PodInitializing"}}}]},
        {}, ["0/1", "Init:0/1", "0"], id="init"),
])
def test_cells(status: dict, extra: dict, cells: list[str]) -> None:
    pod = _pod(status, initContainers=[{"name": "init", "image": "busybox"}]) \
        if "initContainerStatuses" in status else _pod(status)
    pod["metadata"].update(extra)
    row = PODS.table.cells(pod, NOW)
    ip = (status.get("podIPs") or [{"ip": "<none>"}])[0]["ip"]
    assert row == ["p", *cells, "10m", ip, "n1", "<none>", "<none>"]
    assert len(row) == len(PODS.table.columns)


@pytest.mark.parametrize(("field", "value"), [
    pytest.param("spec.nodeName", "n1", id="node"),
    pytest.param("spec.hostNetwork", "false", id="host-network"),
    pytest.param("status.phase", "Running", id="phase"),
    pytest.param("status.podIP", "10.0.0.5", id="pod-ip"),
])
def test_field_selectors(field: str, value: str) -> None:
    pod = _pod({"phase": "Running", "podIPs": [{"ip": "10.0.0.5"}]})
    assert PODS.field_selectors[field](pod) == value
