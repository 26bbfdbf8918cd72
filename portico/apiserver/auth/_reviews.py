"""The review kinds: answers computed from the request, never stored (pure).

- SelfSubjectAccessReview / SubjectAccessReview / LocalSubjectAccessReview
  (authorization.k8s.io/v1): would this user be allowed `spec.resourceAttributes`
  or `spec.nonResourceAttributes`? (`kubectl auth can-i`)
- SelfSubjectRulesReview: every rule the user holds in `spec.namespace`
  (`kubectl auth can-i --list`); `incomplete` when an authorizer (Node) cannot list.
- SelfSubjectReview (authentication.k8s.io/v1): who am I (`kubectl auth whoami`).
- TokenReview: who a token stands for (webhook token authentication).
Each reply is the request object with `status` filled in, answered 201 Created.
"""

from __future__ import annotations

from typing import Any

from portico.apiserver import errors
from portico.apiserver.auth._attributes import Attributes
from portico.apiserver.auth._authorizer import Authorizer
from portico.apiserver.auth._rules import Rule
from portico.apiserver.auth._user import UserInfo, authenticated

Object = dict[str, Any]
AUTHZ = "authorization.k8s.io/v1"
AUTHN = "authentication.k8s.io/v1"


def _reply(body: Object, kind: str, api_version: str, status: Object) -> Object:
    meta = dict(body.get("metadata") or {})
    meta.setdefault("creationTimestamp", None)
    return {"kind": kind, "apiVersion": api_version, "metadata": meta,
            **({"spec": body.get("spec") or {}} if kind != "SelfSubjectReview" else {}),
            "status": status}


def review_attributes(spec: Object, namespace: str = "") -> Attributes:
    resource = spec.get("resourceAttributes")
    if isinstance(resource, dict):
        return Attributes(str(resource.get("verb", "")), True,
                          api_group=str(resource.get("group", "")),
                          api_version=str(resource.get("version", "")),
                          resource=str(resource.get("resource", "")),
                          subresource=str(resource.get("subresource", "")),
                          namespace=namespace or str(resource.get("namespace", "")),
                          name=str(resource.get("name", "")))
    plain = spec.get("nonResourceAttributes")
    if isinstance(plain, dict):
        return Attributes(str(plain.get("verb", "")), False, path=str(plain.get("path", "")))
    raise errors.invalid_object(
        "SubjectAccessReview", "", [errors.invalid(
            "spec.resourceAttributes", None,
            "exactly one of nonResourceAttributes or resourceAttributes must be specified")],
        "authorization.k8s.io")


def access_review(authorizer: Authorizer, user: UserInfo, body: Object, kind: str,
                  namespace: str = "") -> Object:
    spec = body.get("spec") or {}
    decision = authorizer.authorize(user, review_attributes(spec, namespace))
    status: Object = {"allowed": decision.allowed}
    if decision.reason:
        status["reason"] = decision.reason
    return _reply(body, kind, AUTHZ, status)


def subject(spec: Object) -> UserInfo:
    extra = {k: tuple(v) for k, v in (spec.get("extra") or {}).items()}
    return UserInfo(str(spec.get("user", "")), tuple(spec.get("groups") or ()),
                    str(spec.get("uid", "")), extra)


def _rule_objects(rules: list[Rule]) -> tuple[list[Object], list[Object]]:
    resource, plain = [], []
    for rule in rules:
        if rule.non_resource_urls:
            plain.append({"verbs": list(rule.verbs),
                          "nonResourceURLs": list(rule.non_resource_urls)})
        if rule.resources or rule.api_groups:
            obj: Object = {"verbs": list(rule.verbs), "apiGroups": list(rule.api_groups),
                           "resources": list(rule.resources)}
            if rule.resource_names:
                obj["resourceNames"] = list(rule.resource_names)
            resource.append(obj)
    return resource, plain


def rules_review(authorizer: Authorizer, user: UserInfo, body: Object) -> Object:
    namespace = str((body.get("spec") or {}).get("namespace", ""))
    rules, errs, incomplete = authorizer.rules(user, namespace)
    resource, plain = _rule_objects(rules)
    status: Object = {"resourceRules": resource, "nonResourceRules": plain,
                      "incomplete": incomplete}
    if errs:
        status["evaluationError"] = ", ".join(errs)
    return _reply(body, "SelfSubjectRulesReview", AUTHZ, status)


def self_review(user: UserInfo, body: Object) -> Object:
    return _reply(body, "SelfSubjectReview", AUTHN, {"userInfo": user.as_object()})


def token_review(user: UserInfo | None, body: Object, audiences: list[str]) -> Object:
    status: Object = {"authenticated": user is not None}
    if user is not None:
        status["user"] = authenticated(user).as_object()
        status["audiences"] = audiences
    else:
        status["user"] = {}
        status["error"] = "[invalid bearer token, token lookup failed]"
    return _reply(body, "TokenReview", AUTHN, status)
