"""GET /openapi/v2: the Swagger 2.0 document, its gnostic protobuf form and content negotiation."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import orjson
import pytest

from portico.apiserver.openapi import openapi_document, openapi_v2, swagger_document
from portico.apiserver.openapi._gnostic import encode_document, schema
from portico.apiserver.openapi._v2 import JSON, PROTOBUF, negotiate, swagger
from portico.apiserver.protobuf._wire import WireType, iter_fields
from portico.apiserver.resources._base import ResourceType, Strategy
from tests.unit.openapi.test_openapi_documents import DEPLOYMENT, SERVICE, TABLE, _refs

WIDGET = ResourceType("example.com", "v1", "Widget", "widgets", "widget", True, Strategy(), TABLE)
RESOURCES = [SERVICE, DEPLOYMENT, WIDGET]
DEFS = "#/definitions/"
SERVICE_URL = "/api/v1/namespaces/{namespace}/services/{name}"
PB_ACCEPT = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"


@pytest.fixture(scope="module")
def body() -> dict[str, Any]:
    return swagger_document(RESOURCES).body


def test_document_shape(body: dict[str, Any]) -> None:
    assert sorted(body) == ["definitions", "info", "paths", "swagger"]
    assert (body["swagger"], body["info"]) == ("2.0", {"title": "Kubernetes", "version": "v1.33.0"})
    v3_paths = {**openapi_document("api/v1", RESOURCES)["paths"],  # type: ignore[index]
                **openapi_document("apis/apps/v1", RESOURCES)["paths"],  # type: ignore[index]
                **openapi_document("apis/example.com/v1", RESOURCES)["paths"]}  # type: ignore[index]
    assert sorted(body["paths"]) == sorted(v3_paths)


def test_every_ref_resolves_and_no_v3_constructs(body: dict[str, Any]) -> None:
    refs = _refs(body)
    assert refs and all(r.startswith(DEFS) for r in refs)
    assert {r.removeprefix(DEFS) for r in refs} <= set(body["definitions"])
    text = orjson.dumps(body)
    for v3_only in (rb'"allOf"', rb'"oneOf"', rb'"requestBody"', rb'"components"',
                    rb'"type":\['):
        assert not re.search(v3_only, text), v3_only


def test_definitions_in_v2_dialect(body: dict[str, Any]) -> None:
    defs = body["definitions"]
    service = defs["io.k8s.api.core.v1.Service"]
    assert service["x-kubernetes-group-version-kind"] == [
        {"group": "", "kind": "Service", "version": "v1"}]
    spec = service["properties"]["spec"]
    assert (spec["$ref"], sorted(spec)) == (DEFS + "io.k8s.api.core.v1.ServiceSpec",
                                            ["$ref", "description"])
    assert sorted(service["properties"]["kind"]) == ["description", "type"]
    ports = defs["io.k8s.api.core.v1.ServiceSpec"]["properties"]["ports"]
    assert (ports["items"], ports["x-kubernetes-patch-merge-key"]) == (
        {"$ref": DEFS + "io.k8s.api.core.v1.ServicePort"}, "port")
    quantity = defs["io.k8s.apimachinery.pkg.api.resource.Quantity"]
    assert sorted(quantity) == ["description", "type"] and quantity["type"] == "string"
    ios = defs["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]
    assert (ios["type"], ios["format"]) == ("string", "int-or-string")
    assert defs["com.example.v1.Widget"]["x-kubernetes-preserve-unknown-fields"] is True
    assert "io.k8s.api.autoscaling.v1.Scale" in defs


def test_patch_operation_in_v2_dialect(body: dict[str, Any]) -> None:
    item = body["paths"][SERVICE_URL]
    patch = item["patch"]
    assert patch["consumes"] == [
        "application/apply-patch+yaml", "application/json-patch+json",
        "application/merge-patch+json", "application/strategic-merge-patch+json"]
    assert patch["parameters"][0] == {
        "in": "body", "name": "body", "required": True,
        "schema": {"$ref": DEFS + "io.k8s.apimachinery.pkg.apis.meta.v1.Patch"}}
    field_validation = next(p for p in patch["parameters"] if p["name"] == "fieldValidation")
    assert {k: v for k, v in field_validation.items() if k != "description"} == {
        "in": "query", "name": "fieldValidation", "type": "string", "uniqueItems": True}
    assert patch["responses"]["200"] == {
        "description": "OK", "schema": {"$ref": DEFS + "io.k8s.api.core.v1.Service"}}
    assert (patch["produces"], patch["schemes"]) == (["application/json"], ["https"])
    assert patch["x-kubernetes-group-version-kind"] == {
        "group": "", "kind": "Service", "version": "v1"}
    assert [p["name"] for p in item["parameters"]] == ["name", "namespace", "pretty"]
    assert item["parameters"][0]["required"] is True and item["parameters"][0]["in"] == "path"
    assert "consumes" not in item["get"] and "parameters" not in item["get"]


# A reader for the few gnostic messages the tests look into (field numbers of OpenAPIv2.proto).
def _fields(data: bytes) -> list[tuple[int, Any]]:
    out = []
    for f in iter_fields(data):
        assert f.wire_type in (WireType.BYTES, WireType.VARINT)
        out.append((f.number, f.value))
    return out


def _one(data: bytes, number: int) -> Any:
    values = [v for n, v in _fields(data) if n == number]
    assert len(values) == 1, (number, values)
    return values[0]


def _all(data: bytes, number: int) -> list[Any]:
    return [v for n, v in _fields(data) if n == number]


def _named(data: bytes, number: int) -> dict[str, bytes]:
    """A gnostic Named* list (name = 1, value = 2) as a dict."""
    return {_one(e, 1).decode(): _one(e, 2) for e in _all(data, number)}


def _extensions(data: bytes, number: int) -> dict[str, Any]:
    """Vendor extensions: NamedAny whose Any holds YAML (here JSON) text in field 2."""
    return {name: orjson.loads(_one(value, 2)) for name, value in _named(data, number).items()}


def test_protobuf_document(body: dict[str, Any]) -> None:
    data = swagger_document(RESOURCES).protobuf
    assert data == encode_document(body)
    assert _one(data, 1) == b"2.0"
    info = _one(data, 2)
    assert (_one(info, 1), _one(info, 2)) == (b"Kubernetes", b"v1.33.0")

    definitions = _named(_one(data, 9), 1)
    assert list(definitions) == list(body["definitions"])
    service = definitions["io.k8s.api.core.v1.Service"]
    assert _all(_one(service, 22), 1) == [b"object"]
    assert _extensions(service, 31) == {
        "x-kubernetes-group-version-kind": [{"group": "", "kind": "Service", "version": "v1"}]}
    props = _named(_one(service, 25), 1)
    assert list(props) == list(body["definitions"]["io.k8s.api.core.v1.Service"]["properties"])
    assert _one(props["spec"], 1) == b"#/definitions/io.k8s.api.core.v1.ServiceSpec"
    assert _one(props["spec"], 4).startswith(b"Spec defines the behavior of a service.")

    ports = _named(_one(definitions["io.k8s.api.core.v1.ServiceSpec"], 25), 1)["ports"]
    items = _all(_one(ports, 23), 1)
    assert [_one(i, 1) for i in items] == [b"#/definitions/io.k8s.api.core.v1.ServicePort"]
    assert _extensions(ports, 31)["x-kubernetes-list-map-keys"] == ["port", "protocol"]


def test_protobuf_patch_operation() -> None:
    data = swagger_document(RESOURCES).protobuf
    item = _named(_one(data, 8), 2)[SERVICE_URL]
    patch = _one(item, 8)
    assert _one(patch, 5) == b"patchCoreV1NamespacedService"
    assert b"application/strategic-merge-patch+json" in _all(patch, 7)
    assert _extensions(patch, 13)["x-kubernetes-group-version-kind"] == {
        "group": "", "kind": "Service", "version": "v1"}
    params = [_one(p, 1) for p in _all(patch, 8)]  # ParametersItem -> Parameter
    body_param = _one(_one(params[0], 1), 5)  # BodyParameter.schema
    assert _one(body_param, 1) == b"#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.Patch"
    queries = [_one(_one(p, 2), 3) for p in params[1:]]  # NonBodyParameter.query
    assert [(_one(q, 4), _one(q, 2), _one(q, 6)) for q in queries] == [
        (b"dryRun", b"query", b"string"), (b"fieldManager", b"query", b"string"),
        (b"fieldValidation", b"query", b"string"), (b"force", b"query", b"boolean")]
    path_param = _one(_one(_one(_all(item, 9)[0], 1), 2), 4)  # PathParameterSubSchema
    assert (_one(path_param, 1), _one(path_param, 4), _one(path_param, 5)) == (
        1, b"name", b"string")
    responses = _named(_one(patch, 9), 1)
    ok = _one(_one(_one(responses["200"], 1), 2), 1)  # Response.schema.schema
    assert _one(ok, 1) == b"#/definitions/io.k8s.api.core.v1.Service"


def test_schema_encoding_details() -> None:
    encoded = schema({"type": "object", "additionalProperties": False,
                      "enum": ["a", 1], "required": ["x", "y"]})
    assert _one(_one(encoded, 21), 2) == 0  # AdditionalPropertiesItem.boolean, set to false
    assert [orjson.loads(_one(e, 2)) for e in _all(encoded, 20)] == ["a", 1]
    assert _all(encoded, 19) == [b"x", b"y"]
    with pytest.raises(ValueError, match="oneOf"):
        schema({"oneOf": [{"type": "string"}]})


@pytest.mark.parametrize(("accept", "expected"), [
    pytest.param(PB_ACCEPT, "protobuf", id="client-go"),
    pytest.param(PROTOBUF, "protobuf", id="dotted-spelling"),
    pytest.param("application/json", "json", id="json"),
    pytest.param("", "json", id="none"),
    pytest.param("*/*", "json", id="anything"),
    pytest.param("application/*", "json", id="any-application"),
    pytest.param(f"application/json;q=0.5, {PB_ACCEPT}", "protobuf", id="q-values"),
    pytest.param("application/json, */*", "json", id="kubectl-raw"),
    pytest.param("text/html", None, id="not-acceptable"),
])
def test_negotiation(accept: str, expected: str | None) -> None:
    assert negotiate(accept) == expected


def test_reply_headers_and_not_modified() -> None:
    doc = swagger_document(RESOURCES)
    status, data, headers = openapi_v2(RESOURCES, PB_ACCEPT)
    assert (status, data) == (200, doc.protobuf)
    etag = '"' + hashlib.sha512(doc.json).hexdigest().upper() + '"'
    assert headers == {"Content-Type": PROTOBUF, "ETag": etag, "Vary": "Accept"}
    status, data, headers = openapi_v2(RESOURCES, "application/json")
    assert (status, data, headers["Content-Type"]) == (200, doc.json, JSON)
    assert orjson.loads(data) == doc.body
    assert openapi_v2(RESOURCES, PB_ACCEPT, etag)[:2] == (304, b"")
    assert openapi_v2(RESOURCES, PB_ACCEPT, '"stale"')[0] == 200
    assert openapi_v2(RESOURCES, "text/html")[0] == 406


def test_document_is_cached_per_resource_set() -> None:
    assert swagger_document(RESOURCES) is swagger_document(list(RESOURCES))
    assert swagger([SERVICE])["paths"].keys() <= swagger_document(RESOURCES).body["paths"].keys()
