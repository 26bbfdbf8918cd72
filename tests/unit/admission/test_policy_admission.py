"""ValidatingAdmissionPolicy enforcement: matching, evaluation, denial and warning shapes."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from portico.apiserver import errors
from portico.apiserver.admission import AdmissionRequest, PolicyAdmission, compile_policy
from portico.apiserver.admission._dispatch import BINDINGS, POLICIES
from portico.apiserver.admission._request import rule_matches
from portico.store import SqliteStore
from tests.unit.apiextensions.gateway_bundle import bundle, needs_bundle

CM_RULE = {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"],
           "resources": ["configmaps"]}


def configmap(name: str = "cm", data: dict[str, str] | None = None,
              labels: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "default"}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data or {}}


def request(obj: dict[str, Any] | None, operation: str = "CREATE",
            old: dict[str, Any] | None = None, **kw: Any) -> AdmissionRequest:
    source = obj if obj is not None else old or {}
    fields: dict[str, Any] = {
        "operation": operation, "group": "", "version": "v1", "resource": "configmaps",
        "kind": "ConfigMap", "namespace": "default", "name": source["metadata"]["name"],
        "object": obj, "old_object": old, **kw}
    return AdmissionRequest(**fields)


@pytest.mark.parametrize(("rule", "req", "want"), [
    pytest.param(CM_RULE, request(configmap()), True, id="exact"),
    pytest.param({**CM_RULE, "operations": ["*"]}, request(None, "DELETE", configmap()), True,
                 id="any-operation"),
    pytest.param(CM_RULE, request(None, "DELETE", configmap()), False, id="other-operation"),
    pytest.param({**CM_RULE, "resources": ["*"]}, request(configmap()), True, id="star"),
    pytest.param({**CM_RULE, "resources": ["*"]}, request(configmap(), "UPDATE",
                                                          subresource="status"), False,
                 id="star-excludes-subresources"),
    pytest.param({**CM_RULE, "resources": ["*/*"]}, request(configmap(), "UPDATE",
                                                            subresource="status"), True,
                 id="star-star"),
    pytest.param({**CM_RULE, "resources": ["*/status"]}, request(configmap(), "UPDATE",
                                                                 subresource="status"), True,
                 id="any-status"),
    pytest.param({**CM_RULE, "apiGroups": ["apps"]}, request(configmap()), False, id="group"),
    pytest.param({**CM_RULE, "scope": "Cluster"}, request(configmap()), False, id="scope"),
    pytest.param({**CM_RULE, "resourceNames": ["other"]}, request(configmap()), False,
                 id="resourceNames"),
])
def test_rule_matching(rule: dict[str, Any], req: AdmissionRequest, want: bool) -> None:
    assert rule_matches(rule, req) is want


def policy(validations: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
            "metadata": {"name": "demo-policy"},
            "spec": {"failurePolicy": "Fail", "matchConstraints": {"resourceRules": [CM_RULE]},
                     "validations": validations, **spec}}


def binding(actions: list[str], **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingAdmissionPolicyBinding", "metadata": {"name": "demo-binding"},
            "spec": {"policyName": "demo-policy", "validationActions": actions, **spec}}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    db = SqliteStore(tmp_path / "db.sqlite")
    yield db
    db.close()


def put(store: SqliteStore, *objects: dict[str, Any]) -> None:
    with store.txn() as txn:
        for obj in objects:
            prefix = POLICIES if obj["kind"] == "ValidatingAdmissionPolicy" else BINDINGS
            txn.put(prefix + obj["metadata"]["name"], orjson.dumps(obj))


NO_FOO = {"expression": "!has(object.data) || !('foo' in object.data)",
          "message": "foo is not allowed"}
DENIAL = ("ValidatingAdmissionPolicy 'demo-policy' with binding 'demo-binding' denied request: "
          "{}")


@pytest.mark.parametrize(("validation", "detail", "reason", "code"), [
    pytest.param(NO_FOO, "foo is not allowed", "Invalid", 422, id="message"),
    pytest.param({"expression": "!('foo' in object.data)"},
                 "failed expression: !('foo' in object.data)", "Invalid", 422,
                 id="default-message"),
    pytest.param({"expression": "!('foo' in object.data)", "reason": "Forbidden",
                  "messageExpression": "'key foo in ' + object.metadata.name"},
                 "key foo in cm", "Forbidden", 403, id="messageExpression-reason"),
    pytest.param({"expression": "object.missing == 1"},
                 "expression 'object.missing == 1' resulted in error: no such key: missing",
                 "Invalid", 422, id="runtime-error-fail-closed"),
])
def test_deny_shape(store: SqliteStore, validation: dict[str, Any], detail: str, reason: str,
                    code: int) -> None:
    put(store, policy([validation]), binding(["Deny"]))
    with pytest.raises(errors.StatusError) as caught:
        PolicyAdmission(store).admit(request(configmap(data={"foo": "1"})))
    message = DENIAL.format(detail)
    assert caught.value.status() == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": f'configmaps "cm" is forbidden: {message}', "reason": reason,
        "details": {"name": "cm", "kind": "configmaps", "causes": [{"message": message}]},
        "code": code}


def test_allowed_request_and_warn_action(store: SqliteStore) -> None:
    put(store, policy([NO_FOO]), binding(["Warn", "Audit"]))
    admission = PolicyAdmission(store)
    assert admission.admit(request(configmap(data={"bar": "1"}))) == []
    assert admission.admit(request(configmap(data={"foo": "1"}))) == [
        "Validation failed for ValidatingAdmissionPolicy 'demo-policy' with binding "
        "'demo-binding': foo is not allowed"]


@pytest.mark.parametrize(("spec", "bind", "obj", "denied"), [
    pytest.param({"matchConditions": [{"name": "labelled", "expression":
                                       "has(object.metadata.labels) && "
                                       "'check' in object.metadata.labels"}]},
                 {}, configmap(data={"foo": "1"}), False, id="matchCondition-false"),
    pytest.param({"matchConditions": [{"name": "labelled",
                                       "expression": "'check' in object.metadata.labels"}]},
                 {}, configmap(data={"foo": "1"}), True, id="matchCondition-error-fails-closed"),
    pytest.param({}, {"matchResources": {"objectSelector": {"matchLabels": {"check": "yes"}},
                                         "resourceRules": [CM_RULE]}},
                 configmap(data={"foo": "1"}), False, id="binding-objectSelector"),
    pytest.param({}, {"matchResources": {"objectSelector": {"matchLabels": {"check": "yes"}},
                                         "resourceRules": [CM_RULE]}},
                 configmap(data={"foo": "1"}, labels={"check": "yes"}), True,
                 id="binding-objectSelector-match"),
    pytest.param({"failurePolicy": "Ignore"}, {},
                 {"apiVersion": "v1", "kind": "ConfigMap",
                  "metadata": {"name": "cm", "namespace": "default"}}, False,
                 id="failurePolicy-Ignore"),
    pytest.param({"variables": [{"name": "keys", "expression": "object.data.map(k, k)"}],
                  "validations": [{"expression": "!('foo' in variables.keys)"}]},
                 {}, configmap(data={"foo": "1"}), True, id="variables"),
])
def test_matching_and_failure_policy(store: SqliteStore, spec: dict[str, Any],
                                     bind: dict[str, Any], obj: dict[str, Any],
                                     denied: bool) -> None:
    validations = spec.pop("validations", [{"expression": "!('foo' in object.data)"}])
    put(store, policy(validations, **spec), binding(["Deny"], **bind))
    try:
        PolicyAdmission(store).admit(request(obj))
    except errors.StatusError:
        assert denied
    else:
        assert not denied


def test_policy_recompiles_when_it_changes(store: SqliteStore) -> None:
    admission = PolicyAdmission(store)
    put(store, policy([NO_FOO]), binding(["Warn"]))
    assert admission.admit(request(configmap(data={"foo": "1"})))
    put(store, policy([{"expression": "true"}]))
    assert admission.admit(request(configmap(data={"foo": "1"}))) == []


@pytest.mark.parametrize(("validations", "want"), [
    pytest.param([{"expression": "object.x =="}], [
        "spec.validations[0].expression: Invalid value: \"object.x ==\": compilation failed: "
        "ERROR: <input>:1:12: Syntax error: mismatched input '<EOF>' expecting {'[', '{', '(', "
        "'.', '-', '!', 'true', 'false', 'null', NUM_FLOAT, NUM_INT, NUM_UINT, STRING, BYTES, "
        "IDENTIFIER}\n | object.x ==\n | ...........^"], id="compile-error"),
    pytest.param([{"expression": " "}], [
        "spec.validations[0].expression: Required value: expression is not specified"],
        id="empty"),
    pytest.param([{"expression": "true", "reason": "Teapot"}], [
        'spec.validations[0].reason: Unsupported value: "Teapot": supported values: '
        '"Forbidden", "Invalid", "RequestEntityTooLarge", "Unauthorized"'], id="reason"),
])
def test_policy_compile_errors(validations: list[dict[str, Any]], want: list[str]) -> None:
    assert [e.message() for e in compile_policy({"validations": validations})[1]] == want


@needs_bundle
def test_gateway_bundle_policy_refuses_experimental_over_standard(store: SqliteStore) -> None:
    docs = {d["kind"]: d for d in bundle() if d["kind"].startswith("ValidatingAdmission")}
    put(store, docs["ValidatingAdmissionPolicy"], docs["ValidatingAdmissionPolicyBinding"])
    crd = next(d for d in bundle() if d["kind"] == "CustomResourceDefinition")
    experimental = copy.deepcopy(crd)
    experimental["metadata"]["annotations"]["gateway.networking.k8s.io/channel"] = "experimental"
    admission = PolicyAdmission(store)

    def crd_request(new: dict[str, Any], old: dict[str, Any] | None) -> AdmissionRequest:
        return AdmissionRequest(
            operation="UPDATE" if old else "CREATE", group="apiextensions.k8s.io",
            version="v1", resource="customresourcedefinitions",
            kind="CustomResourceDefinition", namespace="", name=new["metadata"]["name"],
            object=new, old_object=old)

    assert admission.admit(crd_request(crd, None)) == []
    with pytest.raises(errors.StatusError) as caught:
        admission.admit(crd_request(experimental, crd))
    assert caught.value.code == 422
    assert caught.value.message == (
        f'customresourcedefinitions.apiextensions.k8s.io "{crd["metadata"]["name"]}" is '
        "forbidden: ValidatingAdmissionPolicy 'safe-upgrades.gateway.networking.k8s.io' with "
        "binding 'safe-upgrades.gateway.networking.k8s.io' denied request: Installing "
        "experimental CRDs on top of standard channel CRDs is prohibited by default. Uninstall "
        "ValidatingAdmissionPolicy safe-upgrades.gateway.networking.k8s.io to install "
        "experimental CRDs on top of standard channel CRDs.")
