"""CEL x-kubernetes-validations: CRD-time errors and runtime error shapes, as kube-apiserver."""

from __future__ import annotations

from typing import Any

import pytest

from portico.apiserver.apiextensions.cel import MISSING_OLD, compile_rules

ROOT = "spec.versions[0].schema.openAPIV3Schema"


def crd_schema(spec: dict[str, Any], root_rules: list[dict[str, Any]] | None = None,
               ) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": {"spec": spec}}
    if root_rules:
        schema["x-kubernetes-validations"] = root_rules
    return schema


def spec_with(rules: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "replicas": {"type": "integer"},
            "maxReplicas": {"type": "integer"},
            "name": {"type": "string", "maxLength": 64},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "ratio": {"type": "number"},
            "foo-bar": {"type": "string"},
        },
        "x-kubernetes-validations": rules,
        **extra,
    }


def messages(schema: dict[str, Any], obj: Any, old: Any = MISSING_OLD) -> list[str]:
    rules, errs = compile_rules(schema, ROOT)
    assert errs == []
    found, _ = rules.validate(obj, old)
    return [e.message() for e in found]


def cr(spec: dict[str, Any], name: str = "x") -> dict[str, Any]:
    return {"apiVersion": "stable.example.com/v1", "kind": "Foo",
            "metadata": {"name": name, "namespace": "default", "uid": "u"}, "spec": spec}


@pytest.mark.parametrize(("rule", "spec", "want"), [
    pytest.param({"rule": "self.replicas <= self.maxReplicas"},
                 {"replicas": 5, "maxReplicas": 3},
                 ['spec: Invalid value: "object": failed rule: self.replicas <= self.maxReplicas'],
                 id="default-message"),
    pytest.param({"rule": "self.replicas <= self.maxReplicas", "message": "too many"},
                 {"replicas": 5, "maxReplicas": 3}, ['spec: Invalid value: "object": too many'],
                 id="message"),
    pytest.param({"rule": "self.replicas <= self.maxReplicas",
                  "messageExpression": "'replicas ' + string(self.replicas) + ' over max'"},
                 {"replicas": 5, "maxReplicas": 3},
                 ['spec: Invalid value: "object": replicas 5 over max'], id="messageExpression"),
    pytest.param({"rule": "self.replicas <= self.maxReplicas", "message": "fallback",
                  "messageExpression": "self.missing"},
                 {"replicas": 5, "maxReplicas": 3}, ['spec: Invalid value: "object": fallback'],
                 id="messageExpression-error-falls-back"),
    pytest.param({"rule": "self.replicas <= self.maxReplicas", "reason": "FieldValueForbidden",
                  "message": "no"}, {"replicas": 5, "maxReplicas": 3}, ["spec: Forbidden: no"],
                 id="reason-forbidden"),
    pytest.param({"rule": "has(self.name)", "reason": "FieldValueRequired",
                  "message": "name is required", "fieldPath": ".name"}, {},
                 ["spec.name: Required value: name is required"], id="reason-required-fieldPath"),
    pytest.param({"rule": "false", "reason": "FieldValueDuplicate"}, {},
                 ['spec: Duplicate value: "object"'], id="reason-duplicate"),
    pytest.param({"rule": "self.labels.all(k, k != 'bad')", "fieldPath": ".labels['bad']"},
                 {"labels": {"bad": "x"}},
                 ["spec.labels[bad]: Invalid value: \"object\": failed rule: "
                  "self.labels.all(k, k != 'bad')"], id="fieldPath-map-key"),
    pytest.param({"rule": "self.name == 'x'"}, {},
                 ['spec: Invalid value: "object": no such key: name evaluating rule: '
                  "self.name == 'x'"], id="runtime-no-such-key"),
    pytest.param({"rule": "self.labels.size() < 2", "fieldPath": ".labels"},
                 {"labels": {"a": "1", "b": "2"}},
                 ['spec.labels: Invalid value: "object": failed rule: self.labels.size() < 2'],
                 id="fieldPath-property"),
    pytest.param({"rule": "self.name + 1 == 2"}, {"name": "a"},
                 ["spec: Invalid value: \"object\": 'no such overload': call arguments did not "
                  "match a supported operator, function or macro signature for rule: "
                  "self.name + 1 == 2"], id="runtime-no-such-overload"),
    pytest.param({"rule": "self.foo__dash__bar == 'ok'"}, {"foo-bar": "ok"}, [],
                 id="escaped-name"),
    pytest.param({"rule": "self.ratio > 0.5"}, {"ratio": 1}, [], id="number-is-double"),
])
def test_runtime_error_shapes(rule: dict[str, Any], spec: dict[str, Any],
                              want: list[str]) -> None:
    assert messages(crd_schema(spec_with([rule])), cr(spec)) == want


def test_root_rule_sees_only_name_of_metadata_and_prints_nil() -> None:
    schema = crd_schema(spec_with([]), [
        {"rule": "self.metadata.name.startsWith('ok')"},
        {"rule": "self.kind == 'Foo' && self.apiVersion == 'stable.example.com/v1'"},
    ])
    assert messages(schema, cr({}, name="ok-1")) == []
    assert messages(schema, cr({}, name="bad")) == [
        "<nil>: Invalid value: \"object\": failed rule: self.metadata.name.startsWith('ok')"]


def test_root_rule_cannot_see_labels() -> None:
    schema = crd_schema(spec_with([]), [{"rule": "has(self.metadata.labels)"}])
    _, errs = compile_rules(schema, ROOT)
    assert [e.body().split(": compilation failed: ")[1] for e in errs] == [
        "ERROR: <input>:1:18: undefined field 'labels'\n | has(self.metadata.labels)\n | "
        ".................^"]


def test_rules_on_items_report_indexed_paths_and_skip_nulls() -> None:
    spec = {"type": "object", "properties": {"ports": {
        "type": "array", "maxItems": 8,
        "items": {"type": "integer", "nullable": True,
                  "x-kubernetes-validations": [{"rule": "self < 100"}]}}}}
    assert messages(crd_schema(spec), cr({"ports": [1, None, 200]})) == [
        'spec.ports[2]: Invalid value: "integer": failed rule: self < 100']


@pytest.mark.parametrize(("fmt", "rule", "value"), [
    pytest.param("date-time", "self > timestamp('2020-01-01T00:00:00Z')", "2021-05-01T10:00:00Z",
                 id="date-time-is-timestamp"),
    pytest.param("duration", "self > duration('1m')", "90s", id="duration"),
    pytest.param("byte", "self == b'hi'", "aGk=", id="byte-is-bytes"),
])
def test_format_types_of_self(fmt: str, rule: str, value: str) -> None:
    spec = {"type": "object", "properties": {"at": {
        "type": "string", "format": fmt, "x-kubernetes-validations": [{"rule": rule}]}}}
    assert messages(crd_schema(spec), cr({"at": value})) == []


@pytest.mark.parametrize(("entry", "want"), [
    pytest.param({"rule": " "}, [f"{ROOT}.properties[spec].x-kubernetes-validations[0].rule: "
                                 "Required value: rule is not specified"], id="empty-rule"),
    pytest.param({"rule": "true", "message": " "},
                 [f'{ROOT}.properties[spec].x-kubernetes-validations[0].message: Invalid value: '
                  '" ": message must be non-empty if specified'], id="blank-message"),
    pytest.param({"rule": "true", "message": "a\nb"},
                 [f'{ROOT}.properties[spec].x-kubernetes-validations[0].message: Invalid value: '
                  '"a\\nb": message must not contain line breaks'], id="message-line-break"),
    pytest.param({"rule": "true &&\ntrue"},
                 [f"{ROOT}.properties[spec].x-kubernetes-validations[0].message: Required value: "
                  "message must be specified if rule contains line breaks"], id="multiline-rule"),
    pytest.param({"rule": "true", "reason": "Bogus"},
                 [f'{ROOT}.properties[spec].x-kubernetes-validations[0].reason: Unsupported '
                  'value: "Bogus": supported values: "FieldValueDuplicate", '
                  '"FieldValueForbidden", "FieldValueInvalid", "FieldValueRequired"'],
                 id="bad-reason"),
    pytest.param({"rule": "true", "fieldPath": ".nope"},
                 [f'{ROOT}.properties[spec].x-kubernetes-validations[0].fieldPath: Invalid '
                  'value: ".nope": fieldPath must be a valid path'], id="bad-fieldPath"),
    pytest.param({"rule": "self.replicas >"},
                 [f'{ROOT}.properties[spec].x-kubernetes-validations[0].rule: Invalid value: '
                  'apiextensions.ValidationRule{Rule:"self.replicas >", Message:"", '
                  'MessageExpression:"", Reason:(*apiextensions.FieldValueErrorReason)(nil), '
                  'FieldPath:"", OptionalOldSelf:(*bool)(nil)}: compilation failed: ERROR: '
                  "<input>:1:16: Syntax error: mismatched input '<EOF>' expecting {'[', '{', "
                  "'(', '.', '-', '!', 'true', 'false', 'null', NUM_FLOAT, NUM_INT, NUM_UINT, "
                  "STRING, BYTES, IDENTIFIER}\n | self.replicas >\n | ...............^"],
                 id="compile-error"),
    pytest.param({"rule": "'a' + 1 == 'b'"},
                 [f"{ROOT}.properties[spec].x-kubernetes-validations[0].rule: Invalid value: "
                  "apiextensions.ValidationRule{Rule:\"'a' + 1 == 'b'\", Message:\"\", "
                  "MessageExpression:\"\", Reason:(*apiextensions.FieldValueErrorReason)(nil), "
                  "FieldPath:\"\", OptionalOldSelf:(*bool)(nil)}: compilation failed: ERROR: "
                  "<input>:1:5: found no matching overload for '_+_' applied to '(string, int)'"
                  "\n | 'a' + 1 == 'b'\n | ....^"], id="type-error"),
    pytest.param({"rule": "self.replicas > 0 &&\n  self.labels.all(k, self.nme != k)",
                  "message": "m"},
                 [f"{ROOT}.properties[spec].x-kubernetes-validations[0].rule: Invalid value: "
                  "apiextensions.ValidationRule{Rule:\"self.replicas > 0 &&\\n  "
                  "self.labels.all(k, self.nme != k)\", Message:\"m\", MessageExpression:\"\", "
                  "Reason:(*apiextensions.FieldValueErrorReason)(nil), FieldPath:\"\", "
                  "OptionalOldSelf:(*bool)(nil)}: compilation failed: ERROR: <input>:2:26: "
                  "undefined field 'nme'\n |   self.labels.all(k, self.nme != k)\n | "
                  ".........................^"], id="undefined-field"),
    pytest.param({"rule": "'not a bool'"},
                 [f"{ROOT}.properties[spec].x-kubernetes-validations[0].rule: Invalid value: "
                  "apiextensions.ValidationRule{Rule:\"'not a bool'\", Message:\"\", "
                  "MessageExpression:\"\", Reason:(*apiextensions.FieldValueErrorReason)(nil), "
                  "FieldPath:\"\", OptionalOldSelf:(*bool)(nil)}: cel expression must evaluate "
                  "to a bool"], id="not-bool"),
    pytest.param({"rule": "true", "messageExpression": "size(self) + 1"},
                 [f"{ROOT}.properties[spec].x-kubernetes-validations[0].messageExpression: "
                  "Invalid value: apiextensions.ValidationRule{Rule:\"true\", Message:\"\", "
                  "MessageExpression:\"size(self) + 1\", "
                  "Reason:(*apiextensions.FieldValueErrorReason)(nil), FieldPath:\"\", "
                  "OptionalOldSelf:(*bool)(nil)}: messageExpression must evaluate to a string"],
                 id="messageExpression-not-string"),
    pytest.param({"rule": "true", "optionalOldSelf": True},
                 [f"{ROOT}.properties[spec].x-kubernetes-validations[0].optionalOldSelf: "
                  "Invalid value: true: may not be set if oldSelf is not used in rule"],
                 id="optionalOldSelf-without-oldSelf"),
])
def test_crd_time_errors(entry: dict[str, Any], want: list[str]) -> None:
    _, errs = compile_rules(crd_schema(spec_with([entry])), ROOT)
    assert [e.message() for e in errs] == want


def test_compile_error_lists_every_bad_rule_with_its_index() -> None:
    _, errs = compile_rules(crd_schema(spec_with([
        {"rule": "true"}, {"rule": "self.x ==="}, {"rule": "size(1, 2, 3)"}])), ROOT)
    assert [e.field for e in errs] == [
        f"{ROOT}.properties[spec].x-kubernetes-validations[1].rule",
        f"{ROOT}.properties[spec].x-kubernetes-validations[2].rule",
    ]
    assert all(e.body().startswith("Invalid value: apiextensions.ValidationRule{") for e in errs)


def test_empty_rules_fast_path() -> None:
    rules, errs = compile_rules(crd_schema({"type": "object"}), ROOT)
    assert errs == [] and rules.empty
    assert rules.validate(cr({})) == ([], [])
