"""CRD-time schema checks: structural rules and keyword rules, exact upstream messages."""

from __future__ import annotations

from typing import Any

import pytest

from portico.apiserver.apiextensions.schema import structural_errors

P = "spec.versions[0].schema.openAPIV3Schema"


def root(**props: Any) -> dict[str, Any]:
    return {"type": "object", "properties": props}


def messages(schema: dict[str, Any], status: bool = False) -> list[str]:
    return [e.message() for e in structural_errors(schema, P, status_subresource=status)]


@pytest.mark.parametrize(("schema", "want"), [
    pytest.param({"properties": {"a": {"type": "string"}}},
                 [f"{P}.type: Required value: must not be empty at the root"], id="root-type"),
    pytest.param(root(a={}),
                 [f"{P}.properties[a].type: Required value: must not be empty for specified "
                  "object fields"], id="field-type"),
    pytest.param(root(a={"type": "array", "items": {}}),
                 [f"{P}.properties[a].items.type: Required value: must not be empty for "
                  "specified array items"], id="items-type"),
    pytest.param(root(a={"type": "array"}),
                 [f"{P}.properties[a].items: Required value: must be specified"],
                 id="array-without-items"),
    pytest.param({"type": "string"},
                 [f'{P}.type: Invalid value: "string": must be object at the root'],
                 id="root-not-object"),
    pytest.param(root(a={"type": "string", "x-kubernetes-preserve-unknown-fields": False}),
                 [f"{P}.properties[a].x-kubernetes-preserve-unknown-fields: Invalid value: false: "
                  "must be true or undefined"], id="preserve-false"),
    pytest.param(root(a={"type": "object", "anyOf": [{"type": "string"}]}),
                 [f"{P}.properties[a].anyOf[0].type: Forbidden: must be empty to be structural"],
                 id="anyof-type"),
    pytest.param(root(a={"type": "string", "allOf": [{"default": "x"}]}),
                 [f"{P}.properties[a].allOf[0].default: Forbidden: must be undefined to be "
                  "structural"], id="allof-default"),
    pytest.param(root(a={"type": "string", "oneOf": [{"nullable": True}]}),
                 [f"{P}.properties[a].oneOf[0].nullable: Forbidden: must be false to be "
                  "structural"], id="oneof-nullable"),
    pytest.param(root(a={"type": "string", "not": {"description": "d"}}),
                 [f"{P}.properties[a].not.description: Forbidden: must be empty to be "
                  "structural"], id="not-description"),
    pytest.param(root(a={"type": "object", "anyOf": [{"additionalProperties": {}}]}),
                 [f"{P}.properties[a].anyOf[0].additionalProperties: Forbidden: must be "
                  "undefined to be structural"], id="anyof-additional"),
    pytest.param(root(a={"type": "object", "anyOf": [{"x-kubernetes-list-type": "set"}]}),
                 [f"{P}.properties[a].anyOf[0].x-kubernetes-list-type: Forbidden: must be "
                  "undefined to be structural",
                  f"{P}.properties[a].anyOf[0].type: Required value: must be array if "
                  "x-kubernetes-list-type is specified"], id="anyof-extension"),
    pytest.param({"type": "object", "anyOf": [{"properties": {"b": {"minLength": 1}}}]},
                 [f"{P}.properties[b]: Required value: because it is defined in "
                  f"{P}.anyOf[0].properties[b]"], id="completeness"),
    pytest.param(root(metadata={"type": "object", "properties": {"labels": {"type": "object"}}}),
                 [f"{P}.properties[metadata]: Forbidden: must not specify anything other than "
                  "name and generateName, but metadata is implicitly specified"],
                 id="metadata-restricted"),
    pytest.param(root(metadata={"type": "string"}),
                 [f'{P}.properties[metadata].type: Invalid value: "string": must be object'],
                 id="metadata-type"),
    pytest.param(root(kind={"type": "integer"}),
                 [f'{P}.properties[kind].type: Invalid value: "integer": must be string'],
                 id="kind-type"),
    pytest.param(root(a={"x-kubernetes-embedded-resource": True,
                         "x-kubernetes-preserve-unknown-fields": True}),
                 [f"{P}.properties[a].type: Required value: must be object if "
                  "x-kubernetes-embedded-resource is true"], id="embedded-type"),
    pytest.param(root(a={"type": "object", "x-kubernetes-embedded-resource": True}),
                 [f"{P}.properties[a].properties: Required value: must not be empty if "
                  "x-kubernetes-embedded-resource is true without "
                  "x-kubernetes-preserve-unknown-fields"], id="embedded-empty"),
    pytest.param({"type": "object", "additionalProperties": {"type": "string"}},
                 [f"{P}.additionalProperties: Forbidden: must not be used at the root"],
                 id="root-additional"),
    pytest.param(root(a={"type": "string", "pattern": "(a"}),
                 [f'{P}.properties[a].pattern: Invalid value: "(a": must be a valid regular '
                  "expression, but isn't: error parsing regexp: missing closing ): `(a`"],
                 id="pattern"),
    pytest.param(root(a={"x-kubernetes-int-or-string": True,
                         "x-kubernetes-preserve-unknown-fields": True}),
                 [f"{P}.properties[a].x-kubernetes-preserve-unknown-fields: Invalid value: true: "
                  "must be false if x-kubernetes-int-or-string is true"], id="int-or-string-pres"),
])
def test_structural_violations(schema: dict[str, Any], want: list[str]) -> None:
    assert messages(schema) == want


@pytest.mark.parametrize("schema", [
    pytest.param(root(a={"x-kubernetes-int-or-string": True,
                         "anyOf": [{"type": "integer"}, {"type": "string"}]}), id="ios-anyof"),
    pytest.param(root(a={"x-kubernetes-int-or-string": True, "allOf": [
        {"anyOf": [{"type": "integer"}, {"type": "string"}]}, {"pattern": "^[0-9]+%?$"}]}),
        id="ios-allof"),
    pytest.param(root(a={"x-kubernetes-preserve-unknown-fields": True}), id="untyped-preserve"),
    pytest.param(root(metadata={"type": "object", "properties": {
        "name": {"type": "string", "maxLength": 10}}}), id="metadata-name"),
    pytest.param(root(a={"type": "object", "properties": {"b": {"type": "string"}},
                         "anyOf": [{"required": ["b"]}, {"properties": {"b": {"minLength": 1}}}]}),
                 id="complete-junctors"),
    pytest.param(root(a={"type": "object", "x-kubernetes-embedded-resource": True,
                         "x-kubernetes-preserve-unknown-fields": True}), id="embedded-ok"),
])
def test_structural_schemas_pass(schema: dict[str, Any]) -> None:
    assert messages(schema) == []


@pytest.mark.parametrize(("schema", "want"), [
    pytest.param(root(a={"type": "array", "uniqueItems": True, "items": {"type": "string"}}),
                 [f"{P}.properties[a].uniqueItems: Forbidden: uniqueItems cannot be set to true "
                  "since the runtime complexity becomes quadratic"], id="unique-items"),
    pytest.param(root(a={"type": "object", "$ref": "#/x"}),
                 [f"{P}.properties[a].$ref: Forbidden: $ref is not supported"], id="ref"),
    pytest.param(root(a={"type": "object", "properties": {"b": {"type": "string"}},
                         "additionalProperties": {"type": "string"}}),
                 [f"{P}.properties[a].additionalProperties: Forbidden: additionalProperties and "
                  "properties are mutual exclusive"], id="additional-and-properties"),
    pytest.param(root(a={"type": "foo"}),
                 [f'{P}.properties[a].type: Unsupported value: "foo": supported values: '
                  '"array", "boolean", "integer", "number", "object", "string"'], id="bad-type"),
    pytest.param(root(metadata={"type": "object", "default": {}}),
                 [f"{P}.properties[metadata].default: Forbidden: must not be set in top-level "
                  "metadata"], id="metadata-default"),
    pytest.param(root(a={"type": "array", "items": {"type": "string"},
                         "x-kubernetes-list-type": "bag"}),
                 [f'{P}.properties[a].x-kubernetes-list-type: Unsupported value: "bag": '
                  'supported values: "atomic", "set", "map"'], id="list-type"),
    pytest.param(root(a={"type": "array", "x-kubernetes-list-type": "map", "items": {
        "type": "object", "properties": {"k": {"type": "string"}}}}),
        [f"{P}.properties[a].x-kubernetes-list-map-keys: Required value: must not be empty if "
         "x-kubernetes-list-type is map"], id="map-without-keys"),
    pytest.param(root(a={"type": "array", "x-kubernetes-list-type": "map",
                         "x-kubernetes-list-map-keys": ["k"], "items": {
                             "type": "object", "properties": {"k": {"type": "string"}}}}),
                 [f"{P}.properties[a].items.properties[k].default: Required value: this property "
                  "is in x-kubernetes-list-map-keys, so it must have a default or be a required "
                  "property"], id="map-key-optional"),
    pytest.param(root(a={"type": "array", "x-kubernetes-list-type": "set", "items": {
        "type": "object", "properties": {"k": {"type": "string"}}}}),
        [f'{P}.properties[a].items.x-kubernetes-map-type: Invalid value: "null": must be atomic as '
         "item of a list with x-kubernetes-list-type=set"], id="set-of-granular-objects"),
    pytest.param(root(a={"type": "string", "x-kubernetes-validations": [{"rule": " "}]}),
                 [f"{P}.properties[a].x-kubernetes-validations[0].rule: Required value: rule is "
                  "not specified"], id="empty-rule"),
    pytest.param(root(a={"type": "string", "x-kubernetes-map-type": "atomic"}),
                 [f'{P}.properties[a].type: Invalid value: "string": must be object if '
                  "x-kubernetes-map-type is specified"], id="map-type-on-string"),
])
def test_keyword_violations(schema: dict[str, Any], want: list[str]) -> None:
    assert messages(schema) == want


@pytest.mark.parametrize(("schema", "want"), [
    pytest.param(root(a={"type": "object", "properties": {"b": {"type": "string"}},
                         "default": {"b": "x", "c": 1}}),
                 [f'{P}.properties[a].default: Invalid value: map[string]interface {{}}{{"b":"x", '
                  '"c":1}: must not have unknown fields'], id="unpruned-default"),
    pytest.param(root(a={"type": "integer", "maximum": 3, "default": 5}),
                 # the default is validated as a root value: its name is empty
                 [f"{P}.properties[a].default: Invalid value: 5:  in body should be less than "
                  "or equal to 3"], id="default-out-of-range"),
    pytest.param(root(a={"type": "object", "properties": {"b": {"type": "string"}},
                         "default": {"b": 1}}),
                 [f'{P}.properties[a].default.b: Invalid value: "integer": b in body must be of '
                  'type string: "integer"'], id="default-wrong-type"),
])
def test_default_violations(schema: dict[str, Any], want: list[str]) -> None:
    assert messages(schema) == want


def test_status_subresource_root_keywords() -> None:
    schema = {"type": "object", "properties": {}, "nullable": True}
    got = messages(schema, status=True)
    assert got[0].startswith(f"{P}: Invalid value: ")
    assert got[0].endswith(
        "only [Description Type Format Title Maximum ExclusiveMaximum Minimum ExclusiveMinimum "
        "MaxLength MinLength Pattern MaxItems MinItems UniqueItems MultipleOf Required Items "
        "Properties ExternalDocs Example XPreserveUnknownFields XValidations] fields are allowed "
        "at the root of the schema if the status subresource is enabled")
    assert got[1] == f"{P}.nullable: Forbidden: nullable cannot be true at the root"
    assert messages(root(spec={"type": "object"}), status=True) == []
