"""`kind: List` files with the real kubectl: apply, create, delete -f, `get -o yaml` round trips.

kubectl flattens a v1 List client-side, but validates it first against the
OpenAPI v2 document (`/openapi/v2`, protobuf), since the v3 one cannot vouch for
server-side validation of a List. These tests fail with "error validating data:
the server could not find the requested resource" when that document is missing.
"""

from __future__ import annotations

import json
from typing import Any

import yaml
from e2e_support import deployment, service

from tests.conftest import Kubectl

HTTP = {"name": "http", "port": 80, "targetPort": 8080}


def as_list(*manifests: str) -> str:
    """A v1 List (YAML) of the given single-object manifests."""
    items = [yaml.safe_load(m) for m in manifests]
    return yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": items})


def web_list() -> str:
    return as_list(service("web", [HTTP]), deployment("web"))


def uids(kubectl: Kubectl) -> dict[str, str]:
    listed = kubectl.json("get", "svc,deploy")
    return {f"{o['kind']}/{o['metadata']['name']}": o["metadata"]["uid"] for o in listed["items"]}


def test_apply_list_creates_then_leaves_unchanged(kubectl: Kubectl) -> None:
    body = web_list()
    assert kubectl.ok("apply", "-f", "-", input=body) == (
        "service/web created\ndeployment.apps/web created\n")
    created = uids(kubectl)
    assert sorted(created) == ["Deployment/web", "Service/web"]

    assert kubectl.ok("apply", "-f", "-", input=body) == (
        "service/web unchanged\ndeployment.apps/web unchanged\n")
    assert uids(kubectl) == created
    svc = kubectl.json("get", "svc", "web")
    last_applied = json.loads(
        svc["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"])
    assert (last_applied["kind"], last_applied["spec"]["ports"]) == ("Service", [HTTP])


def test_server_side_apply_list(kubectl: Kubectl) -> None:
    assert kubectl.ok("apply", "--server-side", "-f", "-", input=web_list()) == (
        "service/web serverside-applied\ndeployment.apps/web serverside-applied\n")
    assert sorted(uids(kubectl)) == ["Deployment/web", "Service/web"]


def test_create_and_delete_list(kubectl: Kubectl) -> None:
    body = web_list()
    assert kubectl.ok("create", "-f", "-", input=body) == (
        "service/web created\ndeployment.apps/web created\n")
    assert kubectl.fail("create", "-f", "-", input=body) == (
        'Error from server (AlreadyExists): error when creating "STDIN": '
        'services "web" already exists\n'
        'Error from server (AlreadyExists): error when creating "STDIN": '
        'deployments.apps "web" already exists\n')

    assert kubectl.ok("delete", "-f", "-", input=body) == (
        'service "web" deleted\ndeployment.apps "web" deleted\n')
    assert kubectl.fail("get", "svc,deploy", "web") == (
        'Error from server (NotFound): services "web" not found\n'
        'Error from server (NotFound): deployments.apps "web" not found\n')


def test_get_yaml_apply_round_trip(kubectl: Kubectl) -> None:
    """What `kubectl get deploy,svc -o yaml` prints applies back onto the same objects."""
    kubectl.ok("create", "-f", "-", input=service("web", [HTTP]))
    kubectl.ok("create", "-f", "-", input=deployment("web"))
    before = uids(kubectl)
    printed = kubectl.ok("get", "deploy,svc", "-o", "yaml")
    assert yaml.safe_load(printed)["kind"] == "List"

    result = kubectl("apply", "-f", "-", input=printed)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "deployment.apps/web configured\nservice/web configured\n"
    # As on any cluster: objects made by `create` lack the annotation apply keeps.
    assert result.stderr.count("is missing the kubectl.kubernetes.io/last-applied-configuration"
                               " annotation") == 2
    assert uids(kubectl) == before
    annotated = kubectl.json("get", "deploy", "web")["metadata"]["annotations"]
    assert "kubectl.kubernetes.io/last-applied-configuration" in annotated

    again = kubectl.ok("get", "deploy,svc", "-o", "yaml")
    assert kubectl("apply", "-f", "-", input=again).returncode == 0
    assert uids(kubectl) == before


def test_list_item_with_unknown_field_fails_client_side(kubectl: Kubectl) -> None:
    bad: dict[str, Any] = yaml.safe_load(service("web", [HTTP]))
    bad["spec"]["portz"] = [{"port": 1}]
    body = as_list(deployment("web"), yaml.safe_dump(bad))
    assert kubectl.fail("apply", "-f", "-", input=body) == (
        'error: error validating "STDIN": error validating data: ValidationError(Service.spec): '
        'unknown field "portz" in io.k8s.api.core.v1.ServiceSpec; if you choose to ignore these '
        "errors, turn validation off with --validate=false\n")
    assert kubectl.json("get", "svc,deploy")["items"] == []  # nothing of the List was sent


def test_explain_from_openapi_v2(kubectl: Kubectl) -> None:
    """kubectl decodes the protobuf v2 document: explain follows its refs to ServicePort."""
    out = kubectl.ok("explain", "services.spec.ports.port", "--output=plaintext-openapiv2")
    assert out == (
        "KIND:     Service\nVERSION:  v1\n\nFIELD:    port <integer>\n\n"
        "DESCRIPTION:\n     The port that will be exposed by this service.\n")
