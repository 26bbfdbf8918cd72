"""The RBAC authorizer over an indexed snapshot of Roles, ClusterRoles and their bindings.

`Policy.build(roles, cluster_roles, role_bindings, cluster_role_bindings)` indexes
every binding by subject key (`User:<name>`, `Group:<name>`; a ServiceAccount
subject is the user `system:serviceaccount:<ns>:<name>`), cluster-wide and per
namespace, so a decision looks at the user's own keys only, never at every
binding. A binding whose role is missing contributes an error (kube-apiserver's
`RBAC: clusterrole.rbac.authorization.k8s.io "x" not found` reason), not rules.
Objects are the stored JSON; the snapshot never changes once built.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from portico.apiserver.auth._attributes import Attributes
from portico.apiserver.auth._rules import Rule, allows
from portico.apiserver.auth._user import SA_PREFIX, UserInfo

Object = dict[str, Any]
RBAC_GROUP = "rbac.authorization.k8s.io"


def subject_keys(subject: Object, binding_namespace: str) -> str | None:
    kind, name = subject.get("kind"), subject.get("name") or ""
    if kind == "User":
        return f"User:{name}"
    if kind == "Group":
        return f"Group:{name}"
    if kind == "ServiceAccount":
        namespace = subject.get("namespace") or binding_namespace
        return f"User:{SA_PREFIX}{namespace}:{name}"
    return None


def user_keys(user: UserInfo) -> list[str]:
    return [f"User:{user.name}", *(f"Group:{g}" for g in user.groups)]


@dataclass(frozen=True)
class Grant:
    """What one binding gives its subjects: rules, or the error of a missing role."""

    rules: tuple[Rule, ...]
    error: str = ""


def _rules(role: Object) -> tuple[Rule, ...]:
    return tuple(Rule.parse(r) for r in role.get("rules") or [] if isinstance(r, dict))


@dataclass
class Policy:
    cluster: dict[str, list[Grant]] = field(default_factory=lambda: defaultdict(list))
    namespaced: dict[str, dict[str, list[Grant]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(list)))
    roles: dict[tuple[str, str], tuple[Rule, ...]] = field(default_factory=dict)
    cluster_roles: dict[str, tuple[Rule, ...]] = field(default_factory=dict)

    @classmethod
    def build(cls, roles: Iterable[Object], cluster_roles: Iterable[Object],
              role_bindings: Iterable[Object], cluster_role_bindings: Iterable[Object]) -> Policy:
        by_role = {(r["metadata"].get("namespace", ""), r["metadata"]["name"]): _rules(r)
                   for r in roles}
        by_cluster_role = {r["metadata"]["name"]: _rules(r) for r in cluster_roles}
        policy = cls(roles=by_role, cluster_roles=by_cluster_role)

        def grant(ref: Object, namespace: str) -> Grant:
            name = ref.get("name", "")
            if ref.get("kind") == "ClusterRole":
                found = by_cluster_role.get(name)
                return Grant(found) if found is not None else Grant(
                    (), f'clusterrole.{RBAC_GROUP} "{name}" not found')
            found = by_role.get((namespace, name))
            return Grant(found) if found is not None else Grant(
                (), f'role.{RBAC_GROUP} "{name}" not found')

        for binding in cluster_role_bindings:
            g = grant(binding.get("roleRef") or {}, "")
            for subject in binding.get("subjects") or []:
                if (key := subject_keys(subject, "")) is not None:
                    policy.cluster[key].append(g)
        for binding in role_bindings:
            namespace = binding["metadata"].get("namespace", "")
            g = grant(binding.get("roleRef") or {}, namespace)
            for subject in binding.get("subjects") or []:
                if (key := subject_keys(subject, namespace)) is not None:
                    policy.namespaced[namespace][key].append(g)
        return policy

    def role_rules(self, ref: Object, namespace: str) -> tuple[Rule, ...] | None:
        """The rules of the role a roleRef names (None: no such role)."""
        if ref.get("kind") == "ClusterRole":
            return self.cluster_roles.get(str(ref.get("name", "")))
        return self.roles.get((namespace, str(ref.get("name", ""))))

    def grants(self, user: UserInfo, namespace: str) -> list[Grant]:
        keys = user_keys(user)
        found = [g for k in keys for g in self.cluster.get(k, ())]
        if namespace and namespace in self.namespaced:
            per_ns = self.namespaced[namespace]
            found.extend(g for k in keys for g in per_ns.get(k, ()))
        return found

    def rules(self, user: UserInfo, namespace: str) -> tuple[list[Rule], list[str]]:
        """Every rule the user holds in `namespace` ("" = cluster-wide only), and errors."""
        rules: list[Rule] = []
        errs: list[str] = []
        for g in self.grants(user, namespace):
            rules.extend(g.rules)
            if g.error:
                errs.append(g.error)
        return rules, errs

    def decide(self, user: UserInfo, attrs: Attributes) -> tuple[bool, str]:
        """(allowed, reason): the reason names missing roles, as RBAC's does."""
        errs: list[str] = []
        for g in self.grants(user, attrs.namespace):
            if any(allows(rule, attrs) for rule in g.rules):
                return True, ""
            if g.error:
                errs.append(g.error)
        if not errs:
            return False, ""
        joined = errs[0] if len(errs) == 1 else "[" + ", ".join(errs) + "]"
        return False, f"RBAC: {joined}"
