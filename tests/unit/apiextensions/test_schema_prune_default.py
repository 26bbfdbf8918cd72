"""Pruning unknown fields and defaulting, as kube-apiserver does on writes and reads."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from portico.apiserver.apiextensions.schema import CompiledSchema, default, prune

PORTS = {"type": "array", "items": {"type": "object", "properties": {
    "name": {"type": "string"}, "port": {"type": "integer"}}}}
SCHEMA = {"type": "object", "properties": {
    "spec": {"type": "object", "properties": {
        "ports": PORTS,
        "labels": {"type": "object", "additionalProperties": {"type": "object", "properties": {
            "v": {"type": "string"}}}},
        "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True, "properties": {
            "known": {"type": "object", "properties": {"a": {"type": "string"}}}}},
        "anything": {"type": "object", "additionalProperties": True},
        "template": {"type": "object", "x-kubernetes-embedded-resource": True, "properties": {
            "spec": {"type": "object", "properties": {"x": {"type": "string"}}}}},
    }},
    "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
}}


@pytest.mark.parametrize(("obj", "want", "unknown"), [
    pytest.param(
        {"apiVersion": "g/v1", "kind": "K", "metadata": {"name": "a", "zz": 1},
         "spec": {"y": 1, "ports": [{"name": "a", "x": 1}]}},
        {"apiVersion": "g/v1", "kind": "K", "metadata": {"name": "a", "zz": 1},
         "spec": {"ports": [{"name": "a"}]}},
        ["spec.ports[0].x", "spec.y"], id="unknown-fields-sorted"),
    pytest.param({"top": {"a": 1}}, {}, ["top"], id="unknown-root-field"),
    pytest.param({"spec": {"labels": {"k": {"v": "1", "w": 2}}}},
                 {"spec": {"labels": {"k": {"v": "1"}}}}, ["spec.labels.k.w"],
                 id="additional-properties-schema"),
    pytest.param({"spec": {"anything": {"k": {"deep": 1}, "s": "x"}}},
                 {"spec": {"anything": {"k": {}, "s": "x"}}}, ["spec.anything.k.deep"],
                 id="additional-properties-true"),
    pytest.param({"spec": {"free": {"other": {"deep": 1}, "known": {"a": "1", "b": 2}}}},
                 {"spec": {"free": {"other": {"deep": 1}, "known": {"a": "1"}}}},
                 ["spec.free.known.b"], id="preserve-unknown-prunes-declared"),
    pytest.param({"status": {"kopf": {"progress": {}}}}, {"status": {"kopf": {"progress": {}}}},
                 [], id="preserved-status"),
    pytest.param(
        {"spec": {"template": {"apiVersion": "v1", "kind": "Pod", "junk": 1,
                               "metadata": {"name": "p", "bogus": 1, "labels": {}},
                               "spec": {"x": "1", "y": 2}}}},
        {"spec": {"template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                               "spec": {"x": "1"}}}},
        ["spec.template.junk", "spec.template.metadata.bogus", "spec.template.spec.y"],
        id="embedded-resource"),
])
def test_prune(obj: dict[str, Any], want: dict[str, Any], unknown: list[str]) -> None:
    assert prune(obj, SCHEMA) == unknown
    assert obj == want


def test_prune_not_at_resource_root() -> None:
    obj = {"apiVersion": "x", "spec": {}}
    assert prune(obj, SCHEMA, is_resource_root=False) == ["apiVersion"]
    assert obj == {"spec": {}}


DEFAULTS = {"type": "object", "properties": {"spec": {"type": "object", "properties": {
    "replicas": {"type": "integer", "default": 1},
    "mode": {"type": "string", "default": "auto"},
    "maybe": {"type": "string", "nullable": True, "default": "d"},
    "plain": {"type": "string"},
    "opt": {"type": "string", "nullable": True},
    "policy": {"type": "object", "default": {}, "properties": {
        "retries": {"type": "integer", "default": 3},
        "backoff": {"type": "object", "default": {"max": 10}, "properties": {
            "max": {"type": "integer"}, "min": {"type": "integer", "default": 1}}}}},
    "list": {"type": "array", "items": {"type": "string", "default": "x"}},
    "bag": {"type": "object", "additionalProperties": {"type": "integer", "default": 0}},
    "rules": {"type": "array", "items": {"type": "object", "properties": {
        "matches": {"type": "array", "default": [{"path": "/"}],
                    "items": {"type": "object", "properties": {
                        "path": {"type": "string"}, "kind": {"type": "string",
                                                             "default": "Prefix"}}}}}}},
}}}}


@pytest.mark.parametrize(("spec", "want"), [
    pytest.param({}, {"replicas": 1, "mode": "auto", "maybe": "d",
                      "policy": {"retries": 3, "backoff": {"max": 10, "min": 1}}},
                 id="absent-fields-and-nested-defaults"),
    pytest.param({"replicas": None, "maybe": None, "plain": None, "opt": None},
                 {"replicas": 1, "mode": "auto", "maybe": None, "opt": None,
                  "policy": {"retries": 3, "backoff": {"max": 10, "min": 1}}},
                 id="nulls"),
    pytest.param({"replicas": 5, "policy": {"retries": 0}},
                 {"replicas": 5, "mode": "auto", "maybe": "d",
                  "policy": {"retries": 0, "backoff": {"max": 10, "min": 1}}},
                 id="present-values-kept"),
    pytest.param({"list": ["a", None], "bag": {"k": None, "j": 2}},
                 {"list": ["a", "x"], "bag": {"k": 0, "j": 2}, "replicas": 1, "mode": "auto",
                  "maybe": "d", "policy": {"retries": 3, "backoff": {"max": 10, "min": 1}}},
                 id="items-and-map-values-replace-nulls"),
    pytest.param({"rules": [{}, {"matches": [{"path": "/a"}]}]},
                 {"rules": [{"matches": [{"path": "/", "kind": "Prefix"}]},
                            {"matches": [{"path": "/a", "kind": "Prefix"}]}],
                  "replicas": 1, "mode": "auto", "maybe": "d",
                  "policy": {"retries": 3, "backoff": {"max": 10, "min": 1}}},
                 id="defaults-inside-inserted-defaults"),
])
def test_default(spec: dict[str, Any], want: dict[str, Any]) -> None:
    obj = {"spec": spec}
    default(obj, DEFAULTS)
    assert obj == {"spec": want}


def test_defaults_are_copies() -> None:
    first: dict[str, Any] = {"spec": {}}
    second: dict[str, Any] = {"spec": {}}
    compiled = CompiledSchema(DEFAULTS)
    compiled.default(first)
    compiled.default(second)
    first["spec"]["policy"]["backoff"]["max"] = 99
    assert second["spec"]["policy"]["backoff"]["max"] == 10
    assert DEFAULTS["properties"]["spec"]["properties"]["policy"]["properties"]["backoff"][
        "default"] == {"max": 10}


def test_prune_and_default_without_schema_defaults_are_no_ops() -> None:
    schema = {"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "a": {"type": "string"}}}}}
    obj = {"spec": {"a": "x"}}
    before = copy.deepcopy(obj)
    assert CompiledSchema(schema).has_defaults is False
    assert prune(obj, schema) == []
    default(obj, schema)
    assert obj == before
