"""The Gateway API v1.6.1 bundle: every CRD schema is structural and the conformance
manifests' Gateway API objects are valid against them (read from ../shared, not copied)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from portico.apiserver.apiextensions.schema import (
    CompiledSchema,
    openapi_v2,
    openapi_v3,
    structural_errors,
)

CONFORMANCE = Path(__file__).resolve().parents[4] / "shared" / "conformance" / "gateway-api"
# the conformance applier replaces these before sending each object
CLASS_NAME = "portico"
CONTROLLER_NAME = "portico.dev/gateway-controller"


def _docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


CRDS = [d for d in _docs(CONFORMANCE / "standard-install.yaml")
        if d["kind"] == "CustomResourceDefinition"]
VERSIONS = [(crd, i, v) for crd in CRDS for i, v in enumerate(crd["spec"]["versions"])]
SCHEMAS = {(crd["spec"]["group"], v["name"], crd["spec"]["names"]["kind"]):
           CompiledSchema(v["schema"]["openAPIV3Schema"]) for crd, _, v in VERSIONS}
MANIFESTS = sorted((CONFORMANCE / "tests").glob("*.yaml")) + [CONFORMANCE / "base" /
                                                              "manifests.yaml"]


def test_bundle_has_the_ten_crds() -> None:
    assert len(CRDS) == 10


@pytest.mark.parametrize(("crd", "index", "version"), [
    pytest.param(crd, i, v, id=f"{crd['spec']['names']['plural']}-{v['name']}")
    for crd, i, v in VERSIONS])
def test_crd_schemas_are_structural(crd: dict[str, Any], index: int,
                                    version: dict[str, Any]) -> None:
    status = "status" in (version.get("subresources") or {})
    path = f"spec.versions[{index}].schema.openAPIV3Schema"
    errs = structural_errors(version["schema"]["openAPIV3Schema"], path, status_subresource=status)
    assert [e.message() for e in errs] == []


def _gateway_objects() -> list[Any]:
    params = []
    for path in MANIFESTS:
        for obj in _docs(path):
            group, _, version = obj["apiVersion"].rpartition("/")
            if (group, version, obj["kind"]) in SCHEMAS:
                params.append(pytest.param(obj, id=f"{path.stem}-{obj['metadata']['name']}"))
    return params


@pytest.mark.parametrize("obj", _gateway_objects())
def test_conformance_objects_are_valid(obj: dict[str, Any]) -> None:
    obj = copy.deepcopy(obj)
    if obj["kind"] == "Gateway":
        obj["spec"]["gatewayClassName"] = CLASS_NAME
    if obj["kind"] == "GatewayClass":
        obj["spec"]["controllerName"] = CONTROLLER_NAME
    group, _, version = obj["apiVersion"].rpartition("/")
    compiled = SCHEMAS[(group, version, obj["kind"])]
    assert compiled.prune(obj) == []
    compiled.default(obj)
    assert [e.message() for e in compiled.validate(obj)] == []
    assert compiled.validate(obj, old=copy.deepcopy(obj)) == []


def test_httproute_defaults_fill_matches_and_weights() -> None:
    route = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
             "metadata": {"name": "r"},
             "spec": {"rules": [{"backendRefs": [{"name": "svc", "port": 80}]}]}}
    SCHEMAS[("gateway.networking.k8s.io", "v1", "HTTPRoute")].default(route)
    rule = route["spec"]["rules"][0]
    assert rule["matches"] == [{"path": {"type": "PathPrefix", "value": "/"}}]
    assert rule["backendRefs"][0]["weight"] == 1
    assert rule["backendRefs"][0]["kind"] == "Service"


def test_invalid_gateway_reports_every_error() -> None:
    gateway = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
               "metadata": {"name": "g"},
               "spec": {"gatewayClassName": "", "listeners": [
                   {"name": "http", "port": 70000, "protocol": "HTTP"}]}}
    errs = SCHEMAS[("gateway.networking.k8s.io", "v1", "Gateway")].validate(gateway)
    assert [e.message() for e in errs] == [
        'spec.gatewayClassName: Invalid value: "": spec.gatewayClassName in body should be at '
        "least 1 chars long",
        "spec.listeners[0].port: Invalid value: 70000: spec.listeners[0].port in body should be "
        "less than or equal to 65535",
    ]


def _schema_keys(schema: dict[str, Any]) -> set[str]:
    """Keywords used by any node of a schema tree (not inside descriptions)."""
    keys = set(schema)
    for sub in (schema.get("properties") or {}).values():
        keys |= _schema_keys(sub)
    for name in ("items", "additionalProperties"):
        if isinstance(schema.get(name), dict):
            keys |= _schema_keys(schema[name])
    return keys


@pytest.mark.parametrize(("crd", "index", "version"), [
    pytest.param(crd, i, v, id=f"{crd['spec']['names']['plural']}-{v['name']}")
    for crd, i, v in VERSIONS])
def test_openapi_forms(crd: dict[str, Any], index: int, version: dict[str, Any]) -> None:
    schema = version["schema"]["openAPIV3Schema"]
    assert _schema_keys(openapi_v3(schema)) == _schema_keys(schema)
    v2_keys = _schema_keys(openapi_v2(schema))
    assert not v2_keys & {"default", "nullable", "anyOf", "allOf", "oneOf", "not"}
