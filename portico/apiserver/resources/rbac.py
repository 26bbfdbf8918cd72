"""RBAC kinds (rbac.authorization.k8s.io/v1): Role, ClusterRole, RoleBinding, ClusterRoleBinding.

Validation as `pkg/apis/rbac/validation`: every rule has verbs; resource rules
name API groups and resources; only ClusterRoles may use nonResourceURLs; a
binding's roleRef names a Role (RoleBindings only) or ClusterRole of this group
and never changes; subjects are Users, Groups or ServiceAccounts (these with a
namespace in ClusterRoleBindings). Writes also pass RBAC's escalation and bind
checks (`auth._escalation`) for the requesting user. Tables as kubectl prints
them: CREATED AT for roles; ROLE, AGE and (wide) USERS, GROUPS, SERVICEACCOUNTS.
"""

from __future__ import annotations

import datetime
from typing import Any

from portico.apiserver.auth._escalation import confirm_may_bind, confirm_no_escalation
from portico.apiserver.errors import FieldError, invalid, not_supported, required
from portico.apiserver.resources import _base
from portico.apiserver.resources._printers import age, name

GROUP = "rbac.authorization.k8s.io"
_SUBJECT_KINDS = ("ServiceAccount", "User", "Group")


def _rule_errors(rules: list[Any], namespaced: bool) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, rule in enumerate(rules):
        path = f"rules[{i}]"
        if not isinstance(rule, dict):
            continue
        if not rule.get("verbs"):
            errs.append(required(f"{path}.verbs", "verbs must contain at least one value"))
        urls = rule.get("nonResourceURLs") or []
        if urls and namespaced:
            errs.append(invalid(f"{path}.nonResourceURLs", urls,
                                "namespaced rules cannot apply to non-resource URLs"))
        if urls and (rule.get("apiGroups") or rule.get("resources")):
            errs.append(invalid(f"{path}.nonResourceURLs", urls,
                                "rules cannot apply to both regular resources and "
                                "non-resource URLs"))
        if not urls:
            if not rule.get("apiGroups"):
                errs.append(required(f"{path}.apiGroups",
                                     "resource rules must supply at least one api group"))
            if not rule.get("resources"):
                errs.append(required(f"{path}.resources",
                                     "resource rules must supply at least one resource"))
    return errs


class _RbacStrategy(_base.Strategy):
    """Roles and bindings: path-segment names; the plural and scope the authorizer
    checks (escalation, bind) are about."""

    name_validation = "path"

    def __init__(self, plural: str, namespaced: bool) -> None:
        self.plural = plural
        self.namespaced = namespaced


class RoleStrategy(_RbacStrategy):
    def validate(self, obj: _base.Object) -> list[FieldError]:
        return self._validate_rules(obj, "aggregationRule" in obj)

    def validate_update(self, new: _base.Object, old: _base.Object) -> list[FieldError]:
        return self._validate_rules(
            new, new.get("aggregationRule") != old.get("aggregationRule")
        )

    def _validate_rules(self, obj: _base.Object, aggregation: bool) -> list[FieldError]:
        """The rules' validation, then (when valid) the escalation check; `aggregation`:
        whether this write sets or changes the aggregation rule."""
        errs = _rule_errors(obj.get("rules") or [], self.namespaced)
        if not errs:
            meta = obj["metadata"]
            confirm_no_escalation(self.plural, meta.get("namespace", ""), meta.get("name", ""),
                                  obj.get("rules") or [], aggregation)
        return errs


def _binding_errors(obj: _base.Object, namespaced: bool) -> list[FieldError]:
    errs: list[FieldError] = []
    ref = obj.get("roleRef") or {}
    kinds = ("Role", "ClusterRole") if namespaced else ("ClusterRole",)
    if ref.get("apiGroup") != GROUP:
        errs.append(not_supported("roleRef.apiGroup", ref.get("apiGroup", ""), (GROUP,)))
    if ref.get("kind") not in kinds:
        errs.append(not_supported("roleRef.kind", ref.get("kind", ""), kinds))
    if not ref.get("name"):
        errs.append(required("roleRef.name"))
    for i, subject in enumerate(obj.get("subjects") or []):
        path = f"subjects[{i}]"
        kind = subject.get("kind", "")
        if kind not in _SUBJECT_KINDS:
            errs.append(not_supported(f"{path}.kind", kind, _SUBJECT_KINDS))
        if not subject.get("name"):
            errs.append(required(f"{path}.name"))
        if kind == "ServiceAccount" and not namespaced and not subject.get("namespace"):
            errs.append(required(f"{path}.namespace"))
    return errs


class BindingStrategy(_RbacStrategy):
    def default(self, obj: _base.Object) -> None:
        for subject in obj.get("subjects") or []:
            if subject.get("kind") in ("User", "Group"):
                subject.setdefault("apiGroup", GROUP)
            elif subject.get("kind") == "ServiceAccount":
                subject.setdefault("apiGroup", "")

    def validate(self, obj: _base.Object) -> list[FieldError]:
        errs = _binding_errors(obj, self.namespaced)
        if not errs:
            meta = obj["metadata"]
            confirm_may_bind(self.plural, meta.get("namespace", ""), meta.get("name", ""),
                             obj["roleRef"])
        return errs

    def validate_update(self, new: _base.Object, old: _base.Object) -> list[FieldError]:
        if (new.get("roleRef") or {}) != (old.get("roleRef") or {}):
            return [invalid("roleRef", new.get("roleRef"), "cannot change roleRef")]
        return self.validate(new)


def _created_at(obj: _base.Object, now: datetime.datetime) -> list[Any]:
    return [name(obj), obj["metadata"].get("creationTimestamp", "")]


def _subjects(obj: _base.Object, kind: str) -> str:
    out = []
    for s in obj.get("subjects") or []:
        if s.get("kind") == kind:
            out.append(f"{s.get('namespace', '')}/{s['name']}" if kind == "ServiceAccount"
                       else s.get("name", ""))
    return ", ".join(out)


def _binding_cells(obj: _base.Object, now: datetime.datetime) -> list[Any]:
    ref = obj.get("roleRef") or {}
    return [name(obj), f"{ref.get('kind', '')}/{ref.get('name', '')}", age(obj, now),
            _subjects(obj, "User"), _subjects(obj, "Group"),
            _subjects(obj, "ServiceAccount")]


ROLE_TABLE = _base.Table((_base.NAME_COLUMN, _base.Column("Created At", type="date")), _created_at)
BINDING_TABLE = _base.Table((
    _base.NAME_COLUMN, _base.Column("Role"), _base.AGE_COLUMN, _base.Column("Users", priority=1),
    _base.Column("Groups", priority=1), _base.Column("ServiceAccounts", priority=1),
), _binding_cells)


def _kind(kind: str, plural: str, namespaced: bool, strategy: _base.Strategy,
          table: _base.Table) -> _base.ResourceType:
    return _base.ResourceType(group=GROUP, version="v1", kind=kind, plural=plural,
                              singular=kind.lower(), namespaced=namespaced, strategy=strategy,
                              table=table, has_status=False, generation=False)


ROLES = _kind("Role", "roles", True, RoleStrategy("roles", True), ROLE_TABLE)
CLUSTERROLES = _kind("ClusterRole", "clusterroles", False,
                     RoleStrategy("clusterroles", False), ROLE_TABLE)
ROLEBINDINGS = _kind("RoleBinding", "rolebindings", True,
                     BindingStrategy("rolebindings", True), BINDING_TABLE)
CLUSTERROLEBINDINGS = _kind("ClusterRoleBinding", "clusterrolebindings", False,
                            BindingStrategy("clusterrolebindings", False), BINDING_TABLE)
RBAC_RESOURCES = (CLUSTERROLEBINDINGS, CLUSTERROLES, ROLEBINDINGS, ROLES)
