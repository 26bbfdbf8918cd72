"""Imperative writes with the real kubectl: patch, label, annotate, scale, create generators."""

from __future__ import annotations

import re

import pytest
from e2e_support import deployment, parse_table, service

from tests.conftest import Kubectl


@pytest.fixture
def web(kubectl: Kubectl) -> Kubectl:
    """Service web (port 80, labels app=web,tier=frontend) in the test's namespace."""
    body = service("web", [{"name": "http", "port": 80, "targetPort": 8080}],
                   labels={"app": "web", "tier": "frontend"})
    kubectl.ok("apply", "-f", "-", input=body)
    return kubectl


@pytest.mark.parametrize(
    ("patch_type", "patch", "path", "expected"),
    [
        pytest.param("merge", '{"metadata":{"labels":{"tier":null,"env":"prod"}}}',
                     ("metadata", "labels"), {"app": "web", "env": "prod"}, id="merge"),
        pytest.param("json", '[{"op":"replace","path":"/spec/ports/0/port","value":81}]',
                     ("spec", "ports"),
                     [{"name": "http", "port": 81, "protocol": "TCP", "targetPort": 8080}],
                     id="json"),
        pytest.param("strategic",
                     '{"spec":{"ports":[{"name":"metrics","port":9090,"targetPort":9090}]}}',
                     ("spec", "ports"),
                     # New items go first (apimachinery's mergeSortedSlice).
                     [{"name": "metrics", "port": 9090, "protocol": "TCP", "targetPort": 9090},
                      {"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}],
                     id="strategic-merges-by-port"),
        pytest.param("strategic",
                     '{"spec":{"ports":[{"$patch":"delete","port":80},{"port":81}]}}',
                     ("spec", "ports"),
                     [{"port": 81, "protocol": "TCP", "targetPort": 81}],
                     id="strategic-delete-directive"),
    ],
)
def test_patch(
    web: Kubectl, patch_type: str, patch: str, path: tuple[str, str], expected: object
) -> None:
    assert web.ok("patch", "svc", "web", f"--type={patch_type}", "-p", patch) == (
        "service/web patched\n"
    )
    obj = web.json("get", "svc", "web")
    assert obj[path[0]][path[1]] == expected


def test_patch_no_change(web: Kubectl) -> None:
    patch = '{"metadata":{"labels":{"app":"web"}}}'
    assert web.ok("patch", "svc", "web", "--type=merge", "-p", patch) == (
        "service/web patched (no change)\n"
    )


def test_patch_json_test_failure(web: Kubectl) -> None:
    patch = '[{"op":"test","path":"/metadata/labels/app","value":"api"}]'
    stderr = web.fail("patch", "svc", "web", "--type=json", "-p", patch)
    assert stderr.startswith("Error from server (UnprocessableEntity): ") or stderr.startswith(
        "The request is invalid"
    ), stderr


def test_label_rules(web: Kubectl) -> None:
    assert web.ok("label", "svc", "web", "env=prod") == "service/web labeled\n"
    assert web.fail("label", "svc", "web", "env=dev") == (
        "error: 'env' already has a value (prod), and --overwrite is false\n"
    )
    assert web.ok("label", "svc", "web", "env=dev", "--overwrite") == "service/web labeled\n"
    assert web.ok("label", "svc", "web", "env-") == "service/web unlabeled\n"
    assert web.json("get", "svc", "web")["metadata"]["labels"] == {
        "app": "web", "tier": "frontend"
    }


def test_annotate_rules(web: Kubectl) -> None:
    assert web.ok("annotate", "svc", "web", "owner=alice") == "service/web annotated\n"
    assert web.fail("annotate", "svc", "web", "owner=bob") == (
        "error: --overwrite is false but found the following declared annotation(s): "
        "'owner' already has a value (alice)\n"
    )
    assert web.ok("annotate", "svc", "web", "owner=bob", "--overwrite") == (
        "service/web annotated\n"
    )
    annotations = web.json("get", "svc", "web")["metadata"]["annotations"]
    assert annotations["owner"] == "bob"
    assert web.ok("annotate", "svc", "web", "owner-") == "service/web annotated\n"
    assert "owner" not in web.json("get", "svc", "web")["metadata"].get("annotations", {})


def test_scale_deployment(kubectl: Kubectl) -> None:
    kubectl.ok("apply", "-f", "-", input=deployment("web", replicas=1))
    assert kubectl.ok("scale", "deployment", "web", "--replicas=3") == (
        "deployment.apps/web scaled\n"
    )
    names, rows = parse_table(kubectl.ok("get", "deploy"))
    assert names == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert [r["NAME"] for r in rows] == ["web"]
    assert re.fullmatch(r"\d+/3", rows[0]["READY"])
    assert kubectl.ok("get", "deploy", "web", "-o", "jsonpath={.spec.replicas}") == "3"


def test_create_deployment_protobuf(kubectl: Kubectl) -> None:
    assert kubectl.ok("create", "deployment", "web", "--image=nginx") == (
        "deployment.apps/web created\n"
    )
    obj = kubectl.json("get", "deploy", "web")
    assert obj["metadata"]["labels"] == {"app": "web"}
    assert obj["spec"]["replicas"] == 1
    assert obj["spec"]["selector"] == {"matchLabels": {"app": "web"}}
    container = obj["spec"]["template"]["spec"]["containers"][0]
    assert (container["name"], container["image"]) == ("nginx", "nginx")


def test_create_service_nodeport_protobuf(kubectl: Kubectl) -> None:
    assert kubectl.ok("create", "service", "nodeport", "web", "--tcp=80:8080") == (
        "service/web created\n"
    )
    obj = kubectl.json("get", "svc", "web")
    assert obj["spec"]["type"] == "NodePort"
    assert obj["spec"]["selector"] == {"app": "web"}
    (port,) = obj["spec"]["ports"]
    assert 30000 <= port.pop("nodePort") <= 32767
    assert port == {"name": "80-8080", "port": 80, "protocol": "TCP", "targetPort": 8080}


def test_create_service_clusterip_protobuf(kubectl: Kubectl) -> None:
    assert kubectl.ok("create", "service", "clusterip", "extra", "--tcp=8080:80") == (
        "service/extra created\n"
    )
    names, rows = parse_table(kubectl.ok("get", "svc", "extra"))
    assert rows[0]["PORT(S)"] == "8080/TCP"
