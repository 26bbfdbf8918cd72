"""RBAC as kube-apiserver decides: attributes from URLs, rule matching, bindings, messages."""

from __future__ import annotations

import pytest

from portico.apiserver.auth._attributes import Attributes, attributes
from portico.apiserver.auth._forbidden import forbidden
from portico.apiserver.auth._rbac import Policy
from portico.apiserver.auth._rules import Rule, allows, compact, uncovered
from portico.apiserver.auth._user import UserInfo, service_account_user

RBAC = "rbac.authorization.k8s.io"


@pytest.mark.parametrize(("method", "path", "query", "expected"), [
    pytest.param("GET", "/api/v1/namespaces/victim/secrets/db", {},
                 Attributes("get", True, "/api/v1/namespaces/victim/secrets/db", "", "v1",
                            "secrets", "", "victim", "db"), id="get"),
    pytest.param("GET", "/api/v1/pods", {"watch": "true"},
                 Attributes("watch", True, "/api/v1/pods", "", "v1", "pods"), id="watch-all"),
    pytest.param("GET", "/api/v1/namespaces/a/pods", {"fieldSelector": "metadata.name=p"},
                 Attributes("list", True, "/api/v1/namespaces/a/pods", "", "v1", "pods", "",
                            "a", "p"), id="list-one-name"),
    pytest.param("GET", "/api/v1/namespaces/a", {},
                 Attributes("get", True, "/api/v1/namespaces/a", "", "v1", "namespaces", "",
                            "a", "a"), id="namespace-is-its-own-namespace"),
    pytest.param("GET", "/api/v1/namespaces/a/pods/p/exec", {},
                 Attributes("create", True, "/api/v1/namespaces/a/pods/p/exec", "", "v1",
                            "pods", "exec", "a", "p"), id="websocket-exec-needs-create"),
    pytest.param("DELETE", "/apis/apps/v1/namespaces/a/deployments", {},
                 Attributes("deletecollection", True, "/apis/apps/v1/namespaces/a/deployments",
                            "apps", "v1", "deployments", "", "a"), id="deletecollection"),
    pytest.param("GET", "/healthz", {}, Attributes("get", False, "/healthz"), id="non-resource"),
])
def test_request_attributes(method: str, path: str, query: dict[str, str],
                            expected: Attributes) -> None:
    assert attributes(method, path, query) == expected


def _attrs(verb: str, resource: str, group: str = "", namespace: str = "ns", name: str = "",
           sub: str = "") -> Attributes:
    return Attributes(verb, True, api_group=group, resource=resource, subresource=sub,
                      namespace=namespace, name=name)


@pytest.mark.parametrize(("rule", "attrs", "allowed"), [
    pytest.param(Rule(("get",), ("",), ("pods",)), _attrs("get", "pods"), True, id="exact"),
    pytest.param(Rule(("get",), ("",), ("pods",)), _attrs("list", "pods"), False, id="verb"),
    pytest.param(Rule(("*",), ("*",), ("*",)), _attrs("delete", "x", "g"), True, id="all"),
    pytest.param(Rule(("get",), ("",), ("pods",)), _attrs("get", "pods", sub="log"), False,
                 id="subresource-needs-naming"),
    pytest.param(Rule(("get",), ("",), ("*/log",)), _attrs("get", "pods", sub="log"), True,
                 id="star-subresource"),
    pytest.param(Rule(("get",), ("",), ("secrets",), ("a",)), _attrs("get", "secrets", name="b"),
                 False, id="resource-names"),
    pytest.param(Rule(("get",), non_resource_urls=("/apis/*",)),
                 Attributes("get", False, "/apis/apps"), True, id="url-prefix"),
])
def test_rule_matching(rule: Rule, attrs: Attributes, allowed: bool) -> None:
    assert allows(rule, attrs) is allowed


def _role(kind: str, name: str, rules: list[dict], namespace: str = "") -> dict:
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"kind": kind, "metadata": meta, "rules": rules}


def _binding(name: str, ref_kind: str, ref: str, subjects: list[dict],
             namespace: str = "") -> dict:
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"metadata": meta, "roleRef": {"apiGroup": RBAC, "kind": ref_kind, "name": ref},
            "subjects": subjects}


POLICY = Policy.build(
    roles=[_role("Role", "read-db", [{"apiGroups": [""], "resources": ["secrets"],
                                      "verbs": ["get"], "resourceNames": ["db"]}], "victim")],
    cluster_roles=[_role("ClusterRole", "view", [{"apiGroups": [""], "resources": ["pods"],
                                                  "verbs": ["get", "list"]}])],
    role_bindings=[
        _binding("tenant-reads", "Role", "read-db",
                 [{"kind": "ServiceAccount", "name": "default", "namespace": "tenant"}],
                 "victim"),
        _binding("devs-view", "ClusterRole", "view", [{"kind": "Group", "name": "devs"}], "dev"),
        _binding("broken", "ClusterRole", "gone", [{"kind": "User", "name": "carol"}], "dev")],
    cluster_role_bindings=[_binding("all-view", "ClusterRole", "view",
                                    [{"kind": "User", "name": "bob"}])])
TENANT = service_account_user("tenant", "default")


@pytest.mark.parametrize(("user", "attrs", "expected"), [
    pytest.param(TENANT, _attrs("get", "secrets", namespace="victim", name="db"), (True, ""),
                 id="rolebinding-to-serviceaccount"),
    pytest.param(TENANT, _attrs("get", "secrets", namespace="victim", name="other"),
                 (False, ""), id="other-name"),
    pytest.param(TENANT, _attrs("get", "secrets", namespace="tenant", name="db"), (False, ""),
                 id="other-namespace"),
    pytest.param(UserInfo("alice", ("devs",)), _attrs("list", "pods", namespace="dev"),
                 (True, ""), id="group-in-namespace"),
    pytest.param(UserInfo("alice", ("devs",)), _attrs("list", "pods", namespace="prod"),
                 (False, ""), id="group-elsewhere"),
    pytest.param(UserInfo("bob"), _attrs("list", "pods", namespace="prod"), (True, ""),
                 id="clusterrolebinding"),
    pytest.param(UserInfo("carol"), _attrs("list", "pods", namespace="dev"),
                 (False, f'RBAC: clusterrole.{RBAC} "gone" not found'), id="missing-role"),
])
def test_policy_decisions(user: UserInfo, attrs: Attributes, expected: tuple[bool, str]) -> None:
    assert POLICY.decide(user, attrs) == expected


@pytest.mark.parametrize(("attrs", "message"), [
    pytest.param(_attrs("get", "secrets", namespace="victim", name="db-pass"),
                 'secrets "db-pass" is forbidden: User "u" cannot get resource "secrets" in API '
                 'group "" in the namespace "victim"', id="named"),
    pytest.param(_attrs("list", "clusterroles", RBAC, namespace=""),
                 f'clusterroles.{RBAC} is forbidden: User "u" cannot list resource '
                 f'"clusterroles" in API group "{RBAC}" at the cluster scope', id="cluster"),
    pytest.param(_attrs("create", "pods", namespace="a", name="p", sub="exec"),
                 'pods "p" is forbidden: User "u" cannot create resource "pods/exec" in API '
                 'group "" in the namespace "a"', id="subresource"),
    pytest.param(Attributes("get", False, "/metrics"),
                 'forbidden: User "u" cannot get path "/metrics"', id="non-resource"),
])
def test_forbidden_messages(attrs: Attributes, message: str) -> None:
    error = forbidden("u", attrs)
    assert (error.code, error.reason, error.message) == (403, "Forbidden", message)


def test_escalation_lists_what_is_not_held_compacted() -> None:
    owned = [Rule(("get", "list"), ("",), ("pods",))]
    wanted = [Rule(("get", "delete", "patch"), ("",), ("pods", "secrets"))]
    missing = sorted(r.compact() for r in compact(uncovered(owned, wanted)))
    assert missing == [
        '{APIGroups:[""], Resources:["pods"], Verbs:["delete" "patch"]}',
        '{APIGroups:[""], Resources:["secrets"], Verbs:["get" "delete" "patch"]}']
    assert uncovered([Rule(("*",), ("*",), ("*",))], wanted) == []
