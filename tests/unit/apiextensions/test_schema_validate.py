"""Custom resource validation against a CRD schema: kube-openapi's messages and kube's paths."""

from __future__ import annotations

from typing import Any

import pytest

from portico.apiserver.apiextensions.schema import MISSING, CompiledSchema, blocks_cel, validate
from portico.apiserver.errors import ErrorType, FieldError

SPEC = {
    "replicas": {"type": "integer", "minimum": 1, "maximum": 10},
    "ratio": {"type": "number", "exclusiveMaximum": True, "maximum": 2},
    "step": {"type": "integer", "multipleOf": 3},
    "g": {"type": "string", "enum": ["foo", "bar"]},
    "n": {"type": "integer", "enum": [1, 2]},
    "s": {"type": "string", "minLength": 2, "maxLength": 10, "pattern": "^[a-z]+$"},
    "l": {"type": "array", "minItems": 2, "maxItems": 3, "items": {"type": "string"}},
    "m": {"type": "object", "maxProperties": 2, "additionalProperties": {"type": "string"}},
    "few": {"type": "object", "minProperties": 2, "additionalProperties": {"type": "string"}},
    "port": {"x-kubernetes-int-or-string": True},
    "opt": {"type": "string", "nullable": True},
    "when": {"type": "string", "format": "date-time"},
    "ip": {"type": "string", "format": "ipv4"},
    "big": {"type": "integer", "format": "int32"},
    "pet": {"type": "string", "format": "pet-name"},
    "sub": {"type": "object", "required": ["a"], "properties": {"a": {"type": "string"}}},
    "closed": {"type": "object", "additionalProperties": False},
    "either": {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
               "oneOf": [{"required": ["a"]}, {"required": ["b"]}]},
}
SCHEMA = {"type": "object", "properties": {"spec": {"type": "object", "properties": SPEC}}}


def msgs(spec: dict[str, Any], **kwargs: Any) -> list[str]:
    return [e.message() for e in validate({"spec": spec}, SCHEMA, **kwargs)]


@pytest.mark.parametrize(("spec", "want"), [
    pytest.param({"replicas": "x"}, ['spec.replicas: Invalid value: "string": spec.replicas in '
                                     'body must be of type integer: "string"'], id="type"),
    pytest.param({"replicas": 15}, ["spec.replicas: Invalid value: 15: spec.replicas in body "
                                    "should be less than or equal to 10"], id="maximum"),
    pytest.param({"replicas": 0}, ["spec.replicas: Invalid value: 0: spec.replicas in body "
                                   "should be greater than or equal to 1"], id="minimum"),
    pytest.param({"replicas": 3.0}, [], id="integer-accepts-3.0"),
    pytest.param({"replicas": 3.5}, ['spec.replicas: Invalid value: "number": spec.replicas in '
                                     'body must be of type integer: "number"'], id="integer-3.5"),
    pytest.param({"ratio": 2.0}, ["spec.ratio: Invalid value: 2: spec.ratio in body should be "
                                  "less than 2"], id="exclusive-maximum"),
    pytest.param({"step": 7}, ["spec.step: Invalid value: 7: spec.step in body should be a "
                               "multiple of 3"], id="multiple-of"),
    pytest.param({"g": "qux"}, ['spec.g: Unsupported value: "qux": supported values: "foo", '
                                '"bar"'], id="enum"),
    pytest.param({"n": 3}, ['spec.n: Unsupported value: 3: supported values: "1", "2"'],
                 id="enum-numbers"),
    pytest.param({"n": 1.0}, [], id="enum-converts-numbers"),
    pytest.param({"s": "abcdefghijkl"}, ["spec.s: Too long: may not be more than 10 bytes"],
                 id="max-length"),
    pytest.param({"s": "a"}, ['spec.s: Invalid value: "a": spec.s in body should be at least 2 '
                              "chars long"], id="min-length"),
    pytest.param({"s": "AB"}, ['spec.s: Invalid value: "AB": spec.s in body should match '
                               "'^[a-z]+$'"], id="pattern"),
    pytest.param({"l": ["a", "b", "c", "d", "e"]}, ["spec.l: Too many: 5: must have at most 3 "
                                                   "items"], id="max-items"),
    pytest.param({"l": ["a"]}, ["spec.l: Invalid value: 1: spec.l in body should have at least "
                                "2 items"], id="min-items"),
    pytest.param({"l": ["a", 1]}, ['spec.l[1]: Invalid value: "integer": spec.l[1] in body must '
                                   'be of type string: "integer"'], id="item-type"),
    pytest.param({"m": {"a": "1", "b": "2", "c": "3"}}, ["spec.m: Too many: 3: must have at most "
                                                        "2 items"], id="max-properties"),
    pytest.param({"few": {"a": "1"}}, ["spec.few: Invalid value: 1: spec.few in body should "
                                       "have at least 2 properties"], id="min-properties"),
    pytest.param({"m": {"a": 1}}, ['spec.m.a: Invalid value: "integer": spec.m.a in body must be '
                                   'of type string: "integer"'], id="map-value"),
    pytest.param({"port": 80}, [], id="int-or-string-int"),
    pytest.param({"port": "http"}, [], id="int-or-string-string"),
    pytest.param({"port": True}, ['spec.port: Invalid value: "boolean": spec.port in body must be '
                                  'of type integer,string: "boolean"'], id="int-or-string-bool"),
    pytest.param({"opt": None}, [], id="nullable-null"),
    pytest.param({"s": None}, ['spec.s: Invalid value: "null": spec.s in body must be of type '
                               'string: "null"'], id="null"),
    pytest.param({"when": "yesterday"}, ['spec.when: Invalid value: "yesterday": spec.when in '
                                         'body must be of type date-time: "yesterday"'],
                 id="date-time"),
    pytest.param({"when": "2026-12-07T10:53:26Z"}, [], id="date-time-ok"),
    pytest.param({"when": 5}, ['spec.when: Invalid value: "int64": spec.when in body must be of '
                               'type date-time: "int64"'], id="format-wrong-type"),
    pytest.param({"ip": "1.2.3.256"}, ['spec.ip: Invalid value: "1.2.3.256": spec.ip in body '
                                       'must be of type ipv4: "1.2.3.256"'], id="ipv4"),
    pytest.param({"big": 2 ** 40}, [], id="int32-not-enforced"),
    pytest.param({"pet": "anything"}, [], id="unknown-format"),
    pytest.param({"sub": {}}, ["spec.sub.a: Required value"], id="required"),
    pytest.param({"closed": {"x": 1}}, ['spec.closed: Invalid value: "x": spec.closed.x in body '
                                        "is a forbidden property"], id="additional-false"),
    pytest.param({"either": {"a": "1", "b": "2"}},
                 ['<nil>: Invalid value: "": "spec.either" must validate one and only one schema '
                  "(oneOf). Found 2 valid alternatives"], id="one-of"),
])
def test_message_forms(spec: dict[str, Any], want: list[str]) -> None:
    assert msgs(spec) == want


def test_errors_sorted_by_property_and_all_listed() -> None:
    got = msgs({"s": "A", "replicas": 20, "g": "x"})
    assert [m.split(":")[0] for m in got] == ["spec.g", "spec.replicas", "spec.s"]


def test_path_prefix_for_status_validation() -> None:
    status_schema = {"type": "object", "properties": {"replicas": {"type": "integer"}}}
    errs = validate({"replicas": "x"}, status_schema, path="status")
    assert [e.message() for e in errs] == [
        'status.replicas: Invalid value: "string": replicas in body must be of type integer: '
        '"string"']


EMBEDDED = {"type": "object", "properties": {"spec": {"type": "object", "properties": {
    "template": {"type": "object", "x-kubernetes-embedded-resource": True,
                 "x-kubernetes-preserve-unknown-fields": True}}}}}


@pytest.mark.parametrize(("template", "want"), [
    pytest.param({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"}}, [],
                 id="valid"),
    pytest.param({"metadata": {}}, ["spec.template.apiVersion: Required value",
                                    "spec.template.kind: Required value"], id="missing-typemeta"),
    pytest.param({"apiVersion": "a/b/c", "kind": "Pod"},
                 ['spec.template.apiVersion: Invalid value: "a/b/c": unexpected GroupVersion '
                  "string: a/b/c"], id="bad-api-version"),
    pytest.param({"apiVersion": "v1", "kind": 3},
                 ["spec.template.kind: Invalid value: 3: must be a string"], id="kind-not-string"),
    pytest.param({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a/b"}},
                 ["spec.template.metadata.name: Invalid value: \"a/b\": may not contain '/'"],
                 id="name-slash"),
    pytest.param({"apiVersion": "v1", "kind": "Pod", "metadata": {"generateName": "a%"}},
                 ["spec.template.metadata.generateName: Invalid value: \"a%\": may not contain "
                  "'%'"], id="generate-name"),
    pytest.param({"apiVersion": "v1", "kind": "Pod", "metadata": {"labels": "x"}},
                 ['spec.template.metadata: Invalid value: map[string]interface {}{"labels":"x"}: '
                  "json: cannot unmarshal string into Go struct field ObjectMeta.labels of type "
                  "map[string]string"], id="labels-mistyped"),
])
def test_embedded_resources(template: dict[str, Any], want: list[str]) -> None:
    errs = validate({"spec": {"template": template}}, EMBEDDED)
    assert [e.message() for e in errs] == want


def test_embedded_kind_must_be_dns1035() -> None:
    errs = validate({"spec": {"template": {"apiVersion": "v1", "kind": "My_Kind"}}}, EMBEDDED)
    assert len(errs) == 1
    assert errs[0].message().startswith('spec.template.kind: Invalid value: "My_Kind": may have '
                                        "mixed case, but should otherwise match: a DNS-1035 label")


LISTS = {"type": "object", "properties": {"spec": {"type": "object", "properties": {
    "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
    "ports": {"type": "array", "x-kubernetes-list-type": "map",
              "x-kubernetes-list-map-keys": ["name"],
              "items": {"type": "object", "required": ["name"], "properties": {
                  "name": {"type": "string"}, "port": {"type": "integer", "maximum": 100}}}},
    "pairs": {"type": "array", "x-kubernetes-list-type": "map",
              "x-kubernetes-list-map-keys": ["a", "b"],
              "items": {"type": "object", "required": ["a", "b"], "properties": {
                  "a": {"type": "string"}, "b": {"type": "integer"}}}},
}}}}


@pytest.mark.parametrize(("spec", "want"), [
    pytest.param({"tags": ["a", "b", "a", "a"]}, ['spec.tags[2]: Duplicate value: "a"'],
                 id="set"),
    pytest.param({"tags": ["a", "b"]}, [], id="set-unique"),
    pytest.param({"ports": [{"name": "a"}, {"name": "a", "port": 1}]},
                 ['spec.ports[1]: Duplicate value: map[string]interface {}{"name":"a"}'],
                 id="map"),
    pytest.param({"pairs": [{"a": "x", "b": 1}, {"a": "x", "b": 2}, {"a": "x", "b": 1}]},
                 ['spec.pairs[2]: Duplicate value: map[string]interface {}{"a":"x", "b":1}'],
                 id="map-two-keys"),
])
def test_list_type_uniqueness(spec: dict[str, Any], want: list[str]) -> None:
    assert [e.message() for e in validate({"spec": spec}, LISTS)] == want


def test_old_duplicates_are_tolerated_on_update() -> None:
    old = {"spec": {"tags": ["a", "a"]}}
    new = {"spec": {"tags": ["a", "a", "b"]}}
    assert validate(new, LISTS, old=old) == []
    assert [e.message() for e in validate(new, LISTS, old={"spec": {}})] == [
        'spec.tags[1]: Duplicate value: "a"']


def test_ratcheting_keeps_unchanged_invalid_values() -> None:
    old = {"spec": {"s": "ALREADY-INVALID", "replicas": 50}}
    new = {"spec": {"s": "ALREADY-INVALID", "replicas": 60}}
    assert msgs(new["spec"], old=old) == [
        "spec.replicas: Invalid value: 60: spec.replicas in body should be less than or equal "
        "to 10"]
    assert msgs(old["spec"], old=old) == []


def test_ratcheting_correlates_list_map_items_by_key() -> None:
    old = {"spec": {"ports": [{"name": "a", "port": 500}, {"name": "b", "port": 1}]}}
    new = {"spec": {"ports": [{"name": "b", "port": 1}, {"name": "a", "port": 500},
                              {"name": "c", "port": 700}]}}
    assert [e.message() for e in validate(new, LISTS, old=old)] == [
        "spec.ports[2].port: Invalid value: 700: spec.ports[2].port in body should be less than "
        "or equal to 100"]


def test_ratcheting_does_not_correlate_atomic_lists() -> None:
    schema = {"type": "object", "properties": {"l": {"type": "array", "items": {
        "type": "string", "maxLength": 1}}}}
    old, new = {"l": ["aa", "b"]}, {"l": ["aa", "c"]}
    assert [e.message() for e in validate(new, schema, old=old)] == [
        "l[0]: Too long: may not be more than 1 byte"]


def test_compiled_schema_matches_functions() -> None:
    compiled = CompiledSchema(SCHEMA)
    spec = {"replicas": "x", "sub": {}}
    assert compiled.validate({"spec": spec}) == validate({"spec": spec}, SCHEMA)
    assert compiled.validate({"spec": spec}, old=MISSING) == validate({"spec": spec}, SCHEMA)
    status = CompiledSchema({"type": "object", "properties": {"status": {
        "type": "object", "properties": {"n": {"type": "integer"}}}}}).property("status")
    assert status is not None
    assert [e.field for e in status.validate({"n": "1"}, path="status")] == ["status.n"]


@pytest.mark.parametrize(("kind", "blocks"), [
    pytest.param(ErrorType.NOT_SUPPORTED, True, id="not-supported"),
    pytest.param(ErrorType.REQUIRED, True, id="required"),
    pytest.param(ErrorType.TOO_LONG, True, id="too-long"),
    pytest.param(ErrorType.TOO_MANY, True, id="too-many"),
    pytest.param(ErrorType.TYPE_INVALID, True, id="type-invalid"),
    pytest.param(ErrorType.INVALID, False, id="invalid"),
    pytest.param(ErrorType.DUPLICATE, False, id="duplicate"),
    pytest.param(ErrorType.FORBIDDEN, False, id="forbidden"),
])
def test_blocks_cel(kind: ErrorType, blocks: bool) -> None:
    assert blocks_cel([FieldError(ErrorType.INVALID, "a"), FieldError(kind, "b")]) is blocks
    assert blocks_cel([]) is False


def test_type_errors_block_cel_through_validate() -> None:
    assert blocks_cel(validate({"spec": {"replicas": "x"}}, SCHEMA))
    assert not blocks_cel(validate({"spec": {"replicas": 20}}, SCHEMA))


def test_null_in_nullable_enum_fails_the_enum_as_upstream() -> None:
    schema = {"type": "object", "properties": {"e": {"type": "string", "nullable": True,
                                                     "enum": ["a"]}}}
    assert [e.message() for e in validate({"e": None}, schema)] == [
        'e: Unsupported value: "null": supported values: "a"']


@pytest.mark.parametrize(("value", "want"), [
    pytest.param(2.5, "spec.ratio: Invalid value: 2.5: spec.ratio in body should be less than 2",
                 id="float"),
    pytest.param(1e21, "spec.ratio: Invalid value: 1e+21: spec.ratio in body should be less "
                 "than 2", id="float-exponent"),
    pytest.param(1e20, "spec.ratio: Invalid value: 100000000000000000000: spec.ratio in body "
                 "should be less than 2", id="float-large"),
])
def test_float_values_print_as_go(value: float, want: str) -> None:
    assert msgs({"ratio": value}) == [want]


def test_map_values_print_as_go() -> None:
    schema = {"type": "object", "properties": {"o": {"type": "object", "properties": {
        "a": {"type": "string"}}, "enum": [{"a": "x"}]}}}
    assert [e.message() for e in validate({"o": {"a": "y"}}, schema)] == [
        'o: Unsupported value: map[string]interface {}{"a":"y"}: supported values: '
        '"{\\"a\\":\\"x\\"}"']


def test_any_of_reports_the_branch_with_most_passing_checks() -> None:
    schema = {"type": "object", "properties": {"x": {
        "type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "integer"}},
        "anyOf": [{"required": ["a"]}, {"properties": {"b": {"maximum": 5}}}]}}}
    assert [e.message() for e in validate({"x": {"b": 10}}, schema)] == [
        '<nil>: Invalid value: "": "x" must validate at least one schema (anyOf)',
        "x.b: Invalid value: 10: x.b in body should be less than or equal to 5"]
    assert validate({"x": {"a": "1", "b": 10}}, schema) == []
