"""openapi_root / openapi_document: the shape kubectl's validation and explain rely on."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import orjson
import pytest

from portico.apiserver.openapi import document, openapi_document, openapi_root
from portico.apiserver.resources._base import (
    NAME_COLUMN,
    ResourceType,
    Strategy,
    Subresource,
    Table,
)

TABLE = Table((NAME_COLUMN,), lambda o, now: [o["metadata"]["name"]])
SERVICE = ResourceType("", "v1", "Service", "services", "service", True, Strategy(), TABLE,
                       subresources=(Subresource("status"),))
DEPLOYMENT = ResourceType(
    "apps", "v1", "Deployment", "deployments", "deployment", True, Strategy(), TABLE,
    subresources=(Subresource("status"), Subresource("scale", "Scale", "autoscaling", "v1")))
NAMESPACE = ResourceType("", "v1", "Namespace", "namespaces", "namespace", False, Strategy(),
                         TABLE, verbs=("create", "delete", "get", "list", "patch", "update"))
WIDGET = ResourceType("example.com", "v1", "Widget", "widgets", "widget", True, Strategy(), TABLE)
RESOURCES = [SERVICE, DEPLOYMENT, NAMESPACE]
SCHEMAS = "#/components/schemas/"


def doc(path: str, resources: list[ResourceType] = RESOURCES) -> dict[str, Any]:
    body = openapi_document(path, resources)
    assert body is not None
    return body


def test_root_lists_group_versions_with_content_hash() -> None:
    root = openapi_root(RESOURCES)
    assert sorted(root) == ["paths"]
    assert sorted(root["paths"]) == ["api/v1", "apis/apps/v1"]
    for path, entry in root["paths"].items():
        served = document(path, RESOURCES)
        assert served is not None
        digest = hashlib.sha512(served.data).hexdigest().upper()
        assert entry == {"serverRelativeURL": f"/openapi/v3/{path}?hash={digest}"}
        assert orjson.loads(served.data) == served.body


def test_documents_are_cached() -> None:
    assert openapi_document("api/v1", RESOURCES) is openapi_document("/api/v1", list(RESOURCES))


@pytest.mark.parametrize("path", [
    pytest.param("apis/batch/v1", id="unserved-group"),
    pytest.param("api/v2", id="unserved-version"),
    pytest.param("version", id="not-a-group-version"),
    pytest.param("apis/apps", id="group-only"),
])
def test_unserved_paths(path: str) -> None:
    assert openapi_document(path, RESOURCES) is None


@pytest.mark.parametrize(("path", "expected"), [
    pytest.param("api/v1", [
        "/api/v1/namespaces", "/api/v1/namespaces/{namespace}/services",
        "/api/v1/namespaces/{namespace}/services/{name}",
        "/api/v1/namespaces/{namespace}/services/{name}/status", "/api/v1/namespaces/{name}",
        "/api/v1/services", "/api/v1/watch/namespaces/{namespace}/services",
        "/api/v1/watch/namespaces/{namespace}/services/{name}", "/api/v1/watch/services",
    ], id="core"),
    pytest.param("apis/apps/v1", [
        "/apis/apps/v1/deployments", "/apis/apps/v1/namespaces/{namespace}/deployments",
        "/apis/apps/v1/namespaces/{namespace}/deployments/{name}",
        "/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale",
        "/apis/apps/v1/namespaces/{namespace}/deployments/{name}/status",
        "/apis/apps/v1/watch/deployments",
        "/apis/apps/v1/watch/namespaces/{namespace}/deployments",
        "/apis/apps/v1/watch/namespaces/{namespace}/deployments/{name}",
    ], id="apps"),
])
def test_paths(path: str, expected: list[str]) -> None:
    assert list(doc(path)["paths"]) == expected


def _param_names(op: dict[str, Any]) -> list[str]:
    return [p["name"] for p in op.get("parameters", [])]


@pytest.mark.parametrize(("path", "url", "method", "summary"), [
    pytest.param("api/v1", "/api/v1/namespaces/{namespace}/services/{name}", "patch",
                 ("patch", "patchCoreV1NamespacedService", ("", "v1", "Service"),
                  ["dryRun", "fieldManager", "fieldValidation", "force"]), id="patch"),
    pytest.param("api/v1", "/api/v1/namespaces/{namespace}/services/{name}", "put",
                 ("put", "replaceCoreV1NamespacedService", ("", "v1", "Service"),
                  ["dryRun", "fieldManager", "fieldValidation"]), id="put"),
    pytest.param("api/v1", "/api/v1/namespaces/{namespace}/services", "post",
                 ("post", "createCoreV1NamespacedService", ("", "v1", "Service"),
                  ["dryRun", "fieldManager", "fieldValidation"]), id="post"),
    pytest.param("api/v1", "/api/v1/namespaces/{namespace}/services/{name}", "delete",
                 ("delete", "deleteCoreV1NamespacedService", ("", "v1", "Service"),
                  ["dryRun", "gracePeriodSeconds", "propagationPolicy"]), id="delete"),
    pytest.param("api/v1", "/api/v1/namespaces/{namespace}/services/{name}/status", "patch",
                 ("patch", "patchCoreV1NamespacedServiceStatus", ("", "v1", "Service"),
                  ["dryRun", "fieldManager", "fieldValidation", "force"]), id="status-patch"),
    pytest.param("api/v1", "/api/v1/services", "get",
                 ("list", "listCoreV1ServiceForAllNamespaces", ("", "v1", "Service"),
                  ["allowWatchBookmarks", "continue", "fieldSelector", "labelSelector", "limit",
                   "resourceVersion", "resourceVersionMatch", "sendInitialEvents",
                   "timeoutSeconds", "watch"]), id="all-namespaces-list"),
    pytest.param("api/v1", "/api/v1/namespaces/{name}", "patch",
                 ("patch", "patchCoreV1Namespace", ("", "v1", "Namespace"),
                  ["dryRun", "fieldManager", "fieldValidation", "force"]), id="cluster-scoped"),
    pytest.param("apis/apps/v1", "/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale",
                 "patch", ("patch", "patchAppsV1NamespacedDeploymentScale",
                           ("autoscaling", "v1", "Scale"),
                           ["dryRun", "fieldManager", "fieldValidation", "force"]), id="scale"),
])
def test_operations(path: str, url: str, method: str, summary: tuple[Any, ...]) -> None:
    op = doc(path)["paths"][url][method]
    gvk = op["x-kubernetes-group-version-kind"]
    assert (op["x-kubernetes-action"], op["operationId"],
            (gvk["group"], gvk["version"], gvk["kind"]), _param_names(op)) == summary


def test_operation_bodies_reference_kind_schemas() -> None:
    item = doc("api/v1")["paths"]["/api/v1/namespaces/{namespace}/services/{name}"]
    kind_ref = {"schema": {"$ref": SCHEMAS + "io.k8s.api.core.v1.Service"}}
    patch_ref = {"schema": {"$ref": SCHEMAS + "io.k8s.apimachinery.pkg.apis.meta.v1.Patch"}}
    assert item["put"]["requestBody"] == {"content": {"*/*": kind_ref}, "required": True}
    assert item["patch"]["requestBody"]["content"]["application/strategic-merge-patch+json"] == (
        patch_ref)
    assert item["get"]["responses"]["200"] == {
        "content": {"application/json": kind_ref}, "description": "OK"}
    assert [p["name"] for p in item["parameters"]] == ["name", "namespace", "pretty"]
    assert "delete" not in doc("api/v1")["paths"]["/api/v1/namespaces"]  # no deletecollection


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(_refs(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(v) for v in node))
    return set()


@pytest.mark.parametrize("path", ["api/v1", "apis/apps/v1"])
def test_every_ref_resolves_and_types_are_single(path: str) -> None:
    body = doc(path)
    schemas = body["components"]["schemas"]
    refs = _refs(body)
    assert refs and all(r.startswith(SCHEMAS) for r in refs)
    assert {r.removeprefix(SCHEMAS) for r in refs} <= set(schemas)
    assert not re.search(rb'"type":\[', orjson.dumps(schemas))
    for name in ("Status", "DeleteOptions", "Patch", "WatchEvent", "APIResourceList"):
        assert "io.k8s.apimachinery.pkg.apis.meta.v1." + name in schemas


def test_schema_conversion() -> None:
    schemas = doc("api/v1")["components"]["schemas"]
    service = schemas["io.k8s.api.core.v1.Service"]
    assert service["type"] == "object"
    assert service["x-kubernetes-group-version-kind"] == [
        {"group": "", "kind": "Service", "version": "v1"}]
    assert sorted(service["properties"]["apiVersion"]) == ["description", "type"]
    assert service["properties"]["spec"]["allOf"] == [
        {"$ref": SCHEMAS + "io.k8s.api.core.v1.ServiceSpec"}]
    ports = schemas["io.k8s.api.core.v1.ServiceSpec"]["properties"]["ports"]
    assert {k: v for k, v in ports.items() if k != "description"} == {
        "items": {"$ref": SCHEMAS + "io.k8s.api.core.v1.ServicePort"}, "type": "array",
        "x-kubernetes-list-map-keys": ["port", "protocol"], "x-kubernetes-list-type": "map",
        "x-kubernetes-patch-merge-key": "port", "x-kubernetes-patch-strategy": "merge"}
    port = schemas["io.k8s.api.core.v1.ServicePort"]
    assert (port["required"], port["properties"]["port"]["type"]) == (["port"], "integer")
    ios = schemas["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]
    assert (ios["type"], ios["format"], ios["x-kubernetes-int-or-string"]) == (
        "string", "int-or-string", True)
    quantity = doc("apis/apps/v1")["components"]["schemas"][
        "io.k8s.apimachinery.pkg.api.resource.Quantity"]
    assert quantity["oneOf"] == [{"type": "string"}, {"type": "number"}]


def test_scale_schema_in_apps_document() -> None:
    schemas = doc("apis/apps/v1")["components"]["schemas"]
    assert schemas["io.k8s.api.autoscaling.v1.Scale"]["x-kubernetes-group-version-kind"] == [
        {"group": "autoscaling", "kind": "Scale", "version": "v1"}]
    assert "io.k8s.api.apps.v1.DeploymentList" in schemas
    assert "io.k8s.api.core.v1.Service" not in schemas


def test_kind_without_upstream_schema_gets_stand_in() -> None:
    body = doc("apis/example.com/v1", [WIDGET])
    assert body["components"]["schemas"]["com.example.v1.Widget"] == {
        "type": "object", "x-kubernetes-preserve-unknown-fields": True,
        "x-kubernetes-group-version-kind": [
            {"group": "example.com", "kind": "Widget", "version": "v1"}]}
    patch = body["paths"]["/apis/example.com/v1/namespaces/{namespace}/widgets/{name}"]["patch"]
    assert "fieldValidation" in _param_names(patch)
