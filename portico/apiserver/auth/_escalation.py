"""RBAC's escalation and bind checks (`rbac/validation.ConfirmNoEscalation`, `BindingAuthorized`).

A user may write a Role or ClusterRole only with permissions it already holds
(where the role applies), unless it may `escalate` that role; it may write a
binding only to a role whose permissions it holds, unless it may `bind` that role.
`system:masters` may always; an aggregationRule needs `system:masters` (as
cluster-admin privileges). Writes made in-process (no request user) pass.
"""

from __future__ import annotations

from typing import Any

from portico.apiserver.auth._attributes import Attributes
from portico.apiserver.auth._context import CURRENT, RequestContext
from portico.apiserver.auth._forbidden import forbidden_error
from portico.apiserver.auth._rules import Rule, compact, uncovered
from portico.apiserver.auth._user import MASTERS

Object = dict[str, Any]
GROUP = "rbac.authorization.k8s.io"


def _context() -> RequestContext | None:
    ctx = CURRENT.get()
    if ctx is None or MASTERS in ctx.user.groups:
        return None
    return ctx


def _may(ctx: RequestContext, verb: str, resource: str, namespace: str, name: str) -> bool:
    return ctx.authorizer.authorize(ctx.user, Attributes(
        verb, True, api_group=GROUP, api_version="v1", resource=resource,
        namespace=namespace, name=name)).allowed


def _not_held(ctx: RequestContext, resource: str, name: str, missing: list[Rule],
              errs: list[str]) -> Exception:
    groups = " ".join(f'"{g}"' for g in ctx.user.groups)
    message = (f'user "{ctx.user.name}" (groups=[{groups}]) is attempting to grant RBAC '
               "permissions not currently held:\n"
               + "\n".join(sorted({r.compact() for r in compact(missing)})))
    if errs:
        message += f"; resolution errors: [{', '.join(errs)}]"
    return forbidden_error(resource, GROUP, name, message)


def confirm_no_escalation(resource: str, namespace: str, name: str,
                          raw_rules: list[Object], aggregation: bool = False) -> None:
    """For a Role (`roles`) or ClusterRole (`clusterroles`) being written."""
    ctx = _context()
    if ctx is None:
        return
    if aggregation:
        raise forbidden_error(resource, GROUP, name,
                              "must have cluster-admin privileges to use the aggregationRule")
    if _may(ctx, "escalate", resource, namespace, name):
        return
    owned, errs = ctx.authorizer.policies.current().rules(ctx.user, namespace)
    missing = uncovered(owned, [Rule.parse(r) for r in raw_rules if isinstance(r, dict)])
    if missing:
        raise _not_held(ctx, resource, name, missing, errs)


def confirm_may_bind(resource: str, namespace: str, name: str, role_ref: Object) -> None:
    """For a RoleBinding (`rolebindings`) or ClusterRoleBinding being written."""
    ctx = _context()
    if ctx is None:
        return
    ref_kind = str(role_ref.get("kind", ""))
    ref_resource = "clusterroles" if ref_kind == "ClusterRole" else "roles"
    ref_ns = "" if ref_kind == "ClusterRole" and not namespace else namespace
    if _may(ctx, "bind", ref_resource, ref_ns, str(role_ref.get("name", ""))):
        return
    policy = ctx.authorizer.policies.current()
    rules = policy.role_rules(role_ref, namespace)
    if rules is None:
        kind = "clusterrole" if ref_kind == "ClusterRole" else "role"
        raise forbidden_error(resource, GROUP, name,
                              f'{kind}.{GROUP} "{role_ref.get("name")}" not found')
    owned, errs = policy.rules(ctx.user, namespace)
    missing = uncovered(owned, rules)
    if missing:
        raise _not_held(ctx, resource, name, missing, errs)
