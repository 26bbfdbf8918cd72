"""ValidatingAdmissionPolicy and ValidatingAdmissionPolicyBinding (admissionregistration.k8s.io/v1).

Both are cluster-scoped. Defaults as `admissionregistration/v1/defaults.go`:
failurePolicy Fail; a MatchResources gets matchPolicy Equivalent, empty
namespace and object selectors, and `scope: "*"` on each rule. Validation as
`ValidateValidatingAdmissionPolicy(Binding)`: the policy's expressions must
compile (`portico.apiserver.admission.compile_policy`), it needs
matchConstraints with resourceRules and at least one validation; a binding needs
a policyName and a set of validationActions that does not mix Deny and Warn.
Enforcement is `portico.apiserver.admission`'s.
"""

from __future__ import annotations

import datetime
from typing import Any

from portico.apiserver.admission._policy import compile_policy
from portico.apiserver.errors import (
    FieldError,
    invalid,
    not_supported,
    required,
)
from portico.apiserver.resources import _base
from portico.apiserver.resources._choices import validate_unique_choices
from portico.apiserver.resources._meta import is_dns1123_subdomain
from portico.apiserver.resources._printers import age, name
from portico.apiserver.resources._selector import validate_label_selector
from portico.model.selectors import format_label_selector

GROUP = "admissionregistration.k8s.io"
FAILURE_POLICIES = ("Fail", "Ignore")
MATCH_POLICIES = ("Equivalent", "Exact")
ACTIONS = ("Audit", "Deny", "Warn")
OPERATIONS = ("*", "CONNECT", "CREATE", "DELETE", "UPDATE")
_BOTH = ("must not contain both Deny and Warn (repeating the same validation failure "
         "information in the API response and headers serves no purpose)")


def default_match_resources(match: Any) -> None:
    if not isinstance(match, dict):
        return
    match.setdefault("matchPolicy", "Equivalent")
    match.setdefault("namespaceSelector", {})
    match.setdefault("objectSelector", {})
    for key in ("resourceRules", "excludeResourceRules"):
        for rule in match.get(key) or []:
            if isinstance(rule, dict):
                rule.setdefault("scope", "*")


def _rule_errors(rule: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for key in ("operations", "apiGroups", "apiVersions", "resources"):
        if not rule.get(key):
            errs.append(required(f"{path}.{key}"))
    for i, op in enumerate(rule.get("operations") or []):
        if op not in OPERATIONS:
            errs.append(not_supported(f"{path}.operations[{i}]", op, OPERATIONS))
    return errs


def match_resources_errors(match: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    policy = match.get("matchPolicy")
    if policy is None:
        errs.append(required(f"{path}.matchPolicy"))
    elif policy not in MATCH_POLICIES:
        errs.append(not_supported(f"{path}.matchPolicy", policy, MATCH_POLICIES))
    for key in ("namespaceSelector", "objectSelector"):
        errs.extend(validate_label_selector(match.get(key), f"{path}.{key}"))
    for key in ("resourceRules", "excludeResourceRules"):
        for i, rule in enumerate(match.get(key) or []):
            errs.extend(_rule_errors(rule, f"{path}.{key}[{i}]"))
    return errs


class PolicyStrategy(_base.Strategy):
    def default(self, obj: _base.Object) -> None:
        spec = obj.setdefault("spec", {})
        spec.setdefault("failurePolicy", "Fail")
        default_match_resources(spec.get("matchConstraints"))

    def prepare_for_create(self, obj: _base.Object) -> None:
        obj.pop("status", None)

    def validate(self, obj: _base.Object) -> list[FieldError]:
        spec = obj.get("spec") or {}
        errs: list[FieldError] = []
        policy = spec.get("failurePolicy")
        if policy not in FAILURE_POLICIES:
            errs.append(not_supported("spec.failurePolicy", policy, FAILURE_POLICIES))
        match = spec.get("matchConstraints")
        if match is None:
            errs.append(required("spec.matchConstraints"))
        else:
            errs.extend(match_resources_errors(match, "spec.matchConstraints"))
            if not match.get("resourceRules"):
                errs.append(required("spec.matchConstraints.resourceRules"))
        if not spec.get("validations") and not spec.get("auditAnnotations"):
            detail = "validations or auditAnnotations must contain at least one item"
            errs.append(required("spec.validations", detail))
            errs.append(required("spec.auditAnnotations", detail))
        errs.extend(compile_policy(spec)[1])
        return errs


class BindingStrategy(_base.Strategy):
    def default(self, obj: _base.Object) -> None:
        default_match_resources(_base.nested(obj, "spec", "matchResources"))

    def validate(self, obj: _base.Object) -> list[FieldError]:
        spec = obj.get("spec") or {}
        errs: list[FieldError] = []
        policy = spec.get("policyName") or ""
        if not policy:
            errs.append(required("spec.policyName"))
        else:
            errs.extend(invalid("spec.policyName", policy, m) for m in is_dns1123_subdomain(policy))
        if isinstance(spec.get("matchResources"), dict):
            errs.extend(match_resources_errors(spec["matchResources"], "spec.matchResources"))
        errs.extend(_actions_errors(spec.get("validationActions") or []))
        return errs


def _actions_errors(actions: list[Any]) -> list[FieldError]:
    errs = validate_unique_choices(actions, "spec.validationActions", ACTIONS)
    if "Deny" in actions and "Warn" in actions:
        errs.append(invalid("spec.validationActions", actions, _BOTH))
    if not actions:
        errs.append(required("spec.validationActions", "at least one validation action is "
                             "required"))
    return errs


def _policy_cells(obj: _base.Object, now: datetime.datetime) -> list[Any]:
    validations = len(_base.nested(obj, "spec", "validations", default=[]) or [])
    param_kind = _base.nested(obj, "spec", "paramKind")
    kind = "<unset>"
    if isinstance(param_kind, dict):
        kind = f"{param_kind.get('apiVersion', '')}/{param_kind.get('kind', '')}"
    return [name(obj), validations, kind, age(obj, now)]


def _param_name(param_ref: Any) -> str:
    """`printValidatingAdmissionPolicyBinding`'s PARAMREF cell."""
    if not isinstance(param_ref, dict):
        return "<unset>"
    if param_ref.get("name"):
        return f"{param_ref.get('namespace') or '*'}/{param_ref['name']}"
    if param_ref.get("selector") is not None:
        return format_label_selector(param_ref["selector"])
    return "<unset>"


def _binding_cells(obj: _base.Object, now: datetime.datetime) -> list[Any]:
    return [name(obj), _base.nested(obj, "spec", "policyName", default=""),
            _param_name(_base.nested(obj, "spec", "paramRef")), age(obj, now)]


VALIDATINGADMISSIONPOLICIES = _base.ResourceType(
    group=GROUP, version="v1", kind="ValidatingAdmissionPolicy",
    plural="validatingadmissionpolicies", singular="validatingadmissionpolicy",
    namespaced=False, strategy=PolicyStrategy(),
    table=_base.Table((_base.NAME_COLUMN, _base.Column("Validations", type="integer", description=(
        "Validations indicates the number of validation rules defined in this configuration")),
        _base.Column("ParamKind", description=(
            "ParamKind specifies the kind of resources used to parameterize this policy")),
        _base.AGE_COLUMN), _policy_cells),
    categories=("api-extensions",), subresources=(_base.Subresource("status"),),
    has_status=True, generation=True,
)

VALIDATINGADMISSIONPOLICYBINDINGS = _base.ResourceType(
    group=GROUP, version="v1", kind="ValidatingAdmissionPolicyBinding",
    plural="validatingadmissionpolicybindings", singular="validatingadmissionpolicybinding",
    namespaced=False, strategy=BindingStrategy(),
    table=_base.Table((_base.NAME_COLUMN, _base.Column("PolicyName", description=(
        "PolicyName indicates the policy definition which the policy binding binded to")),
        _base.Column("ParamRef", description=(
            "ParamRef indicates the param resource which sets the configration param")),
        _base.AGE_COLUMN), _binding_cells),
    categories=("api-extensions",), has_status=False, generation=True,
)
