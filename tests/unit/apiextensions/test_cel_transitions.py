"""Transition rules (`oldSelf`), their placement rules, optionalOldSelf and ratcheting."""

from __future__ import annotations

from typing import Any

import pytest

from portico.apiserver.apiextensions.cel import MISSING_OLD, compile_rules

ROOT = "spec.versions[0].schema.openAPIV3Schema"
IMMUTABLE = {"rule": "self == oldSelf", "message": "Value is immutable"}


def schema_of(spec: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": {"spec": spec}}


def obj(spec: Any) -> dict[str, Any]:
    return {"apiVersion": "g.example.com/v1", "kind": "Foo", "metadata": {"name": "x"},
            "spec": spec}


def run(spec_schema: dict[str, Any], new: Any, old: Any = MISSING_OLD,
        ) -> tuple[list[str], list[str]]:
    rules, errs = compile_rules(schema_of(spec_schema), ROOT)
    assert errs == []
    found, warnings = rules.validate(obj(new), obj(old) if old is not MISSING_OLD else old)
    return [e.message() for e in found], warnings


IMMUTABLE_NAME = {"type": "object", "properties": {
    "name": {"type": "string", "x-kubernetes-validations": [IMMUTABLE]}}}
MAP_LIST = {"type": "object", "properties": {"ports": {
    "type": "array", "maxItems": 4, "x-kubernetes-list-type": "map",
    "x-kubernetes-list-map-keys": ["name"],
    "items": {"type": "object", "properties": {
        "name": {"type": "string"},
        "port": {"type": "integer", "x-kubernetes-validations": [
            {"rule": "self >= oldSelf", "message": "port may only grow"}]}}}}}}


@pytest.mark.parametrize(("spec_schema", "new", "old", "want"), [
    pytest.param(IMMUTABLE_NAME, {"name": "a"}, MISSING_OLD, [], id="create-skips-oldSelf"),
    pytest.param(IMMUTABLE_NAME, {"name": "a"}, {"name": "a"}, [], id="unchanged"),
    pytest.param(IMMUTABLE_NAME, {"name": "b"}, {"name": "a"},
                 ['spec.name: Invalid value: "string": Value is immutable'], id="changed"),
    pytest.param(IMMUTABLE_NAME, {"name": "b"}, {}, [], id="no-old-value-correlates"),
    pytest.param(MAP_LIST, {"ports": [{"name": "b", "port": 1}, {"name": "a", "port": 9}]},
                 {"ports": [{"name": "a", "port": 10}, {"name": "b", "port": 1}]},
                 ['spec.ports[1].port: Invalid value: "integer": port may only grow'],
                 id="map-list-correlates-by-key"),
    pytest.param(MAP_LIST, {"ports": [{"name": "c", "port": 1}]},
                 {"ports": [{"name": "a", "port": 10}]}, [], id="new-map-list-key-has-no-old"),
])
def test_transition_rules(spec_schema: dict[str, Any], new: Any, old: Any,
                          want: list[str]) -> None:
    assert run(spec_schema, new, old)[0] == want


def test_optional_old_self_runs_on_create_too() -> None:
    rule = {"rule": "oldSelf.hasValue() ? self == oldSelf.value() : self.startsWith('v')",
            "optionalOldSelf": True, "message": "must start with v, then never change"}
    spec = {"type": "object", "properties": {"name": {
        "type": "string", "x-kubernetes-validations": [rule]}}}
    assert run(spec, {"name": "v1"})[0] == []
    assert run(spec, {"name": "x1"})[0] == [
        'spec.name: Invalid value: "string": must start with v, then never change']
    assert run(spec, {"name": "v2"}, {"name": "v1"})[0] == [
        'spec.name: Invalid value: "string": must start with v, then never change']


def test_unchanged_invalid_value_is_ratcheted_to_a_warning() -> None:
    rule = {"rule": "self.size() < 3", "message": "too long"}
    spec = {"type": "object", "properties": {
        "name": {"type": "string", "x-kubernetes-validations": [rule]},
        "other": {"type": "string"}}}
    errors, warnings = run(spec, {"name": "long", "other": "b"}, {"name": "long", "other": "a"})
    assert errors == []
    assert warnings == ['spec.name: Invalid value: "string": too long']
    errors, _ = run(spec, {"name": "longer"}, {"name": "long"})
    assert errors == ['spec.name: Invalid value: "string": too long']


def test_items_of_an_unchanged_atomic_list_are_ratcheted() -> None:
    rule = {"rule": "self.size() < 3", "message": "too long"}
    spec = {"type": "object", "properties": {"tags": {
        "type": "array", "maxItems": 4,
        "items": {"type": "string", "x-kubernetes-validations": [rule]}}, "other": {
        "type": "string"}}}
    old = {"tags": ["ok", "long"], "other": "a"}
    errors, warnings = run(spec, {"tags": ["ok", "long"], "other": "b"}, old)
    assert (errors, warnings) == ([], ['spec.tags[1]: Invalid value: "string": too long'])
    errors, _ = run(spec, {"tags": ["long", "ok"]}, old)
    assert errors == ['spec.tags[0]: Invalid value: "string": too long']


@pytest.mark.parametrize(("spec_schema", "rule_path", "within"), [
    pytest.param({"type": "array", "maxItems": 4, "items": {
        "type": "string", "x-kubernetes-validations": [IMMUTABLE]}},
        "properties[spec].items", "properties[spec]", id="atomic-list-items"),
    pytest.param({"type": "array", "maxItems": 4, "x-kubernetes-list-type": "set", "items": {
        "type": "string", "x-kubernetes-validations": [IMMUTABLE]}},
        "properties[spec].items", "properties[spec]", id="set-list-items"),
    pytest.param({"type": "object", "x-kubernetes-map-type": "atomic", "properties": {
        "a": {"type": "string", "x-kubernetes-validations": [IMMUTABLE]}}},
        "properties[spec].properties[a]", "properties[spec]", id="atomic-map-properties"),
    pytest.param({"type": "array", "maxItems": 4, "items": {"type": "object", "properties": {
        "a": {"type": "string", "x-kubernetes-validations": [IMMUTABLE]}}}},
        "properties[spec].items.properties[a]", "properties[spec]", id="below-atomic-list"),
])
def test_old_self_on_uncorrelatable_schema_is_refused(spec_schema: dict[str, Any], rule_path: str,
                                                       within: str) -> None:
    _, errs = compile_rules(schema_of(spec_schema), ROOT)
    assert [e.message() for e in errs] == [
        f'{ROOT}.{rule_path}.x-kubernetes-validations[0].rule: Invalid value: "self == oldSelf": '
        f"oldSelf cannot be used on the uncorrelatable portion of the schema within "
        f"{ROOT}.{within}"]
