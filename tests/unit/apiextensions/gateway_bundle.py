"""Test data: the Gateway API bundle's CRDs and conformance objects, read from ../shared.

`defaulted` is a minimal stand-in for the schema package's defaulting (tests only):
it fills absent properties with their schema defaults, top-down, as kube does
before CEL validation runs.
"""

from __future__ import annotations

import copy
import functools
import pathlib
from collections.abc import Mapping
from typing import Any

import pytest
import yaml

CONFORMANCE = pathlib.Path(__file__).resolve().parents[3] / "../shared/conformance/gateway-api"
BUNDLE = CONFORMANCE / "standard-install.yaml"

needs_bundle = pytest.mark.skipif(not BUNDLE.exists(), reason="needs ../shared/conformance")


@functools.cache
def bundle() -> tuple[dict[str, Any], ...]:
    return tuple(d for d in yaml.safe_load_all(BUNDLE.read_text()) if d)


def crd_schemas() -> dict[tuple[str, str], Mapping[str, Any]]:
    """(apiVersion, kind) -> openAPIV3Schema of every served version in the bundle."""
    out: dict[tuple[str, str], Mapping[str, Any]] = {}
    for doc in bundle():
        if doc["kind"] != "CustomResourceDefinition":
            continue
        for version in doc["spec"]["versions"]:
            key = (f"{doc['spec']['group']}/{version['name']}", doc["spec"]["names"]["kind"])
            out[key] = version["schema"]["openAPIV3Schema"]
    return out


def conformance_objects() -> list[tuple[str, dict[str, Any]]]:
    """(file:name, object) for every object in the conformance tests' manifests."""
    out: list[tuple[str, dict[str, Any]]] = []
    for path in sorted([*CONFORMANCE.glob("tests/*.yaml"), *CONFORMANCE.glob("base/*.yaml")]):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                out.append((f"{path.name}:{doc['metadata']['name']}", doc))
    return out


def _fill(value: Any, schema: Mapping[str, Any]) -> None:
    if isinstance(value, dict):
        for name, sub in (schema.get("properties") or {}).items():
            if name not in value and "default" in sub:
                value[name] = copy.deepcopy(sub["default"])
            if name in value:
                _fill(value[name], sub)
        extra = schema.get("additionalProperties")
        if isinstance(extra, Mapping):
            for item in value.values():
                _fill(item, extra)
    elif isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        for item in value:
            _fill(item, schema["items"])


def defaulted(obj: dict[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    _fill(out, schema)
    return out


@functools.cache
def _compiled(api_version: str, kind: str) -> tuple[Any, Any]:
    from portico.apiserver.apiextensions.cel import compile_rules
    from portico.apiserver.apiextensions.schema import CompiledSchema

    schema = crd_schemas()[(api_version, kind)]
    rules, problems = compile_rules(schema, "schema")
    assert problems == []
    return CompiledSchema(schema), rules


def schema_errors(obj: dict[str, Any]) -> list[str]:
    """What the API server would refuse in `obj` (pruned fields, then schema and CEL
    errors after defaulting), against the bundle's CRD of its apiVersion and kind."""
    compiled, rules = _compiled(obj["apiVersion"], obj["kind"])
    candidate = copy.deepcopy(obj)
    pruned = [f"pruned: {p}" for p in compiled.prune(candidate)]
    compiled.default(candidate)
    found = compiled.validate(candidate) or rules.validate(candidate)[0]
    return pruned + [e.message() for e in found]
