"""Authentication, and the official Python client: list, create, patch, watch, delete."""

from __future__ import annotations

import json

import pytest

from portico.testing.sandbox import Cluster
from tests.conftest import new_namespace

UNAUTHORIZED = {
    "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
    "message": "Unauthorized", "reason": "Unauthorized", "code": 401,
}


@pytest.mark.parametrize("path", [pytest.param(p, id=p) for p in ("/api", "/api/v1/services")])
def test_request_without_credentials_is_unauthorized(cluster: Cluster, path: str) -> None:
    result = cluster.sandbox.run(
        ["curl", "-sk", "-w", "\n%{http_code}", f"{cluster.server}{path}"], timeout=30
    )
    body, _, code = result.stdout.rpartition("\n")
    assert code == "401"
    assert json.loads(body) == UNAUTHORIZED


def test_request_with_bad_token_is_unauthorized(cluster: Cluster) -> None:
    result = cluster.sandbox.run(
        ["curl", "-sk", "-H", "Authorization: Bearer nope", "-w", "\n%{http_code}",
         f"{cluster.server}/api"], timeout=30,
    )
    body, _, code = result.stdout.rpartition("\n")
    assert (code, json.loads(body)) == ("401", UNAUTHORIZED)


CLIENT_FLOW = """
import json
ns = NAMESPACE
body = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "py", "labels": {"a": "1"}},
        "spec": {"ports": [{"port": 80}], "selector": {"app": "py"}}}
created = core.create_namespaced_service(ns, body)
print("created", created.metadata.name, created.spec.ports[0].target_port)
try:
    core.create_namespaced_service(ns, body)
except ApiException as exc:
    print("again", exc.status, json.loads(exc.body)["reason"])
print("list", [s.metadata.name for s in core.list_namespaced_service(ns).items])
# Changes after the create's resourceVersion reach the watch whenever it starts.
core.patch_namespaced_service("py", ns, {"metadata": {"labels": {"b": "2"}}})
w = watch.Watch()
seen = []
for event in w.stream(core.list_namespaced_service, ns, timeout_seconds=20,
                      resource_version=created.metadata.resource_version):
    seen.append(event["type"])
    if event["object"].metadata.labels.get("b") == "2":
        w.stop()
print("watch", seen[-1], event["object"].metadata.labels)
jp = core.patch_namespaced_service("py", ns, [{"op": "add", "path": "/metadata/labels/c",
                                              "value": "3"}])
print("json-patch", jp.metadata.labels)
core.delete_namespaced_service("py", ns)
try:
    core.read_namespaced_service("py", ns)
except ApiException as exc:
    print("gone", exc.status, json.loads(exc.body)["message"])
"""


def test_python_client_flow(cluster: Cluster) -> None:
    namespace = new_namespace(cluster, "py")
    try:
        out = cluster.python_client(f"NAMESPACE = {namespace!r}\n" + CLIENT_FLOW)
    finally:
        cluster.kubectl("delete", "namespace", namespace, "--wait=false")
    assert out.splitlines() == [
        "created py 80",
        "again 409 AlreadyExists",
        "list ['py']",
        "watch MODIFIED {'a': '1', 'b': '2'}",
        "json-patch {'a': '1', 'b': '2', 'c': '3'}",
        'gone 404 services "py" not found',
    ]


def test_python_client_lists_nodes_and_namespaces(cluster: Cluster) -> None:
    out = cluster.python_client(
        "names = [n.metadata.name for n in core.list_namespace().items]\n"
        "print('default' in names, 'kube-system' in names)\n"
        "print(type(core.list_node().items).__name__)\n"
    )
    assert out == "True True\nlist\n"
