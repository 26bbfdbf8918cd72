"""A CRD schema in its published OpenAPI v3 and v2 forms."""

from __future__ import annotations

from portico.apiserver.apiextensions.schema import openapi_v2, openapi_v3

IOS = [{"type": "integer"}, {"type": "string"}]
SCHEMA = {"type": "object", "required": ["spec"], "properties": {
    "spec": {"type": "object", "required": ["port", "note"], "properties": {
        "port": {"x-kubernetes-int-or-string": True},
        "pct": {"x-kubernetes-int-or-string": True, "anyOf": [{"maximum": 5}, {"pattern": "%$"}]},
        "note": {"type": "string", "nullable": True, "default": "n"},
        "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True,
                 "properties": {"a": {"type": "string"}}},
        "list": {"type": "array", "x-kubernetes-preserve-unknown-fields": True,
                 "items": {"type": "string"}},
        "mode": {"type": "string", "default": "a", "oneOf": [{"enum": ["a"]}, {"enum": ["b"]}]},
    }}}}


def test_v3_unfolds_int_or_string() -> None:
    spec = openapi_v3(SCHEMA)["properties"]["spec"]["properties"]
    assert spec["port"] == {"x-kubernetes-int-or-string": True, "anyOf": IOS}
    assert spec["pct"]["allOf"] == [{"anyOf": IOS}]
    assert spec["pct"]["anyOf"] == [{"maximum": 5}, {"pattern": "%$"}]
    assert spec["note"] == {"type": "string", "nullable": True, "default": "n"}
    assert "anyOf" not in SCHEMA["properties"]["spec"]["properties"]["port"]


def test_v2_drops_junctors_nullable_preserved_subtrees_and_defaults() -> None:
    out = openapi_v2(SCHEMA)
    spec = out["properties"]["spec"]
    props = spec["properties"]
    assert props["port"] == {"x-kubernetes-int-or-string": True}
    assert props["note"] == {}
    assert props["free"] == {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    assert props["list"] == {"x-kubernetes-preserve-unknown-fields": True}
    assert props["mode"] == {"type": "string"}
    assert spec["required"] == ["port"]
    assert out["required"] == ["spec"]
