"""Declarative writes with the real kubectl: apply, server-side apply, create, delete -f."""

from __future__ import annotations

import re

import pytest
import yaml
from e2e_support import service

from tests.conftest import Kubectl

HTTP = {"name": "http", "port": 80, "targetPort": 8080}
METRICS = {"name": "metrics", "port": 9090}


def test_apply_create_then_remove_port_and_label(kubectl: Kubectl) -> None:
    first = service("web", [HTTP, METRICS], labels={"app": "web", "tier": "frontend"})
    assert kubectl.ok("apply", "-f", "-", input=first) == "service/web created\n"
    created = kubectl.json("get", "svc", "web")
    assert [p["port"] for p in created["spec"]["ports"]] == [80, 9090]

    second = service("web", [HTTP], labels={"app": "web"})
    assert kubectl.ok("apply", "-f", "-", input=second) == "service/web configured\n"
    updated = kubectl.json("get", "svc", "web")
    assert updated["metadata"]["labels"] == {"app": "web"}
    assert updated["spec"]["ports"] == [
        {"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}
    ]
    assert updated["metadata"]["uid"] == created["metadata"]["uid"]
    assert int(updated["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])
    last_applied = updated["metadata"]["annotations"][
        "kubectl.kubernetes.io/last-applied-configuration"
    ]
    assert yaml.safe_load(last_applied)["spec"]["ports"] == [HTTP]

    assert kubectl.ok("apply", "-f", "-", input=second) == "service/web unchanged\n"


def test_apply_unknown_field_is_rejected(kubectl: Kubectl) -> None:
    body = yaml.safe_load(service("web", [HTTP]))
    body["spec"]["portz"] = [{"port": 1}]
    stderr = kubectl.fail("apply", "-f", "-", input=yaml.safe_dump(body))
    assert stderr == (
        'Error from server (BadRequest): error when creating "STDIN": Service in version "v1" '
        'cannot be handled as a Service: strict decoding error: unknown field "spec.portz"\n'
    )
    assert kubectl("get", "svc", "web").returncode == 1


def test_apply_invalid_port_is_unprocessable(kubectl: Kubectl) -> None:
    stderr = kubectl.fail("apply", "-f", "-", input=service("web", [{"port": 70000}]))
    # targetPort defaults to port before validation, so both are reported.
    assert stderr == (
        'The Service "web" is invalid: \n'
        "* spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive\n"
        "* spec.ports[0].targetPort: Invalid value: 70000: must be between 1 and 65535, "
        "inclusive\n"
    )


def test_server_side_apply_conflict_and_force(kubectl: Kubectl) -> None:
    mine = service("web", [HTTP], labels={"app": "web"})
    assert kubectl.ok("apply", "--server-side", "-f", "-", input=mine) == (
        "service/web serverside-applied\n"
    )
    managers = kubectl.json("get", "svc", "web", "--show-managed-fields")
    assert ("kubectl", "Apply") in {
        (m["manager"], m["operation"]) for m in managers["metadata"]["managedFields"]
    }

    theirs = service("web", [{**HTTP, "targetPort": 9090}], labels={"app": "web"})
    result = kubectl("apply", "--server-side", "--field-manager=other", "-f", "-", input=theirs)
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == (
        'error: Apply failed with 1 conflict: conflict with "kubectl": '
        '.spec.ports[port=80,protocol="TCP"].targetPort'
    )
    assert "--force-conflicts" in result.stderr
    assert kubectl.json("get", "svc", "web")["spec"]["ports"][0]["targetPort"] == 8080

    forced = kubectl.ok(
        "apply", "--server-side", "--field-manager=other", "--force-conflicts", "-f", "-",
        input=theirs,
    )
    assert forced == "service/web serverside-applied\n"
    assert kubectl.json("get", "svc", "web")["spec"]["ports"][0]["targetPort"] == 9090


def test_create_twice_already_exists(kubectl: Kubectl) -> None:
    body = service("web", [HTTP])
    assert kubectl.ok("create", "-f", "-", input=body) == "service/web created\n"
    assert kubectl.fail("create", "-f", "-", input=body) == (
        'Error from server (AlreadyExists): error when creating "STDIN": '
        'services "web" already exists\n'
    )


def test_delete_f(kubectl: Kubectl) -> None:
    body = service("web", [HTTP])
    kubectl.ok("create", "-f", "-", input=body)
    assert kubectl.ok("delete", "-f", "-", input=body) == 'service "web" deleted\n'
    assert kubectl.fail("get", "svc", "web") == (
        'Error from server (NotFound): services "web" not found\n'
    )
    assert kubectl.fail("delete", "-f", "-", input=body) == (
        'Error from server (NotFound): error when deleting "STDIN": services "web" not found\n'
    )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        pytest.param(
            {"type": "NodePort", "ports": [{"port": 80, "nodePort": 80}]},
            r'The Service "bad" is invalid: spec\.ports\[0\]\.nodePort: Invalid value: 80: '
            r"provided port is not in the valid range\. The range of valid ports is \d+-\d+",
            id="nodeport-out-of-range",
        ),
        pytest.param(
            {"type": "Bogus", "ports": [{"port": 80}]},
            r'The Service "bad" is invalid: spec\.type: Unsupported value: "Bogus": '
            r'supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"',
            id="unsupported-type",
        ),
    ],
)
def test_create_invalid_service(kubectl: Kubectl, spec: dict[str, object], message: str) -> None:
    body = yaml.safe_dump({"apiVersion": "v1", "kind": "Service",
                           "metadata": {"name": "bad"}, "spec": spec})
    stderr = kubectl.fail("create", "-f", "-", input=body)
    assert re.match(message, stderr), stderr
