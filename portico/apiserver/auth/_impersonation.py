"""Impersonation (`kubectl --as`, `--as-group`, `--as-uid`), itself authorized, as kube-apiserver.

The acting user needs `impersonate` on each thing it claims: `users` (or
`serviceaccounts` in the account's namespace for `system:serviceaccount:ns:name`),
`groups`, `uids` and `userextras/<key>` (authentication.k8s.io). A denial is a 403
about the impersonation, e.g. `users "bob" is forbidden: User "alice" cannot
impersonate resource "users" in API group "" at the cluster scope`. The request
then runs as the impersonated user: the groups asked for (a ServiceAccount's own
groups when none are), plus `system:authenticated`.
"""

from __future__ import annotations

from collections.abc import Mapping

from portico.apiserver import errors
from portico.apiserver.auth._attributes import Attributes
from portico.apiserver.auth._authorizer import Authorizer
from portico.apiserver.auth._forbidden import forbidden
from portico.apiserver.auth._user import (
    SERVICE_ACCOUNTS,
    UserInfo,
    authenticated,
    split_service_account,
)

USER = "Impersonate-User"
GROUP = "Impersonate-Group"
UID = "Impersonate-Uid"
EXTRA = "Impersonate-Extra-"
_AUTHN = "authentication.k8s.io"


def _check(authorizer: Authorizer, actor: UserInfo, attrs: Attributes) -> None:
    decision = authorizer.authorize(actor, attrs)
    if not decision.allowed:
        raise forbidden(actor.name, attrs, decision.reason)


def _wanted(headers: Mapping[str, str], getall: list[str]) -> tuple[
        str, list[str], str, dict[str, tuple[str, ...]]]:
    extra: dict[str, list[str]] = {}
    for key in headers:
        if key.lower().startswith(EXTRA.lower()):
            extra.setdefault(key[len(EXTRA):].lower(), []).append(headers[key])
    return (headers.get(USER, ""), getall, headers.get(UID, ""),
            {k: tuple(v) for k, v in extra.items()})


def impersonate(authorizer: Authorizer, actor: UserInfo, headers: Mapping[str, str],
                groups: list[str]) -> UserInfo:
    """The user to act as (the actor itself without impersonation headers)."""
    if not groups and not any(key[:12].lower() == "impersonate-" for key in headers):
        return actor
    name, groups, uid, extra = _wanted(headers, groups)
    if not name:
        if groups or uid or extra:
            raise errors.bad_request("requested impersonation without impersonating a user")
        return actor
    sa = split_service_account(name)
    if sa is not None:
        _check(authorizer, actor, Attributes("impersonate", True, api_group="",
                                             resource="serviceaccounts", namespace=sa[0],
                                             name=sa[1]))
    else:
        _check(authorizer, actor, Attributes("impersonate", True, resource="users", name=name))
    for group in groups:
        _check(authorizer, actor, Attributes("impersonate", True, resource="groups",
                                             name=group))
    if uid:
        _check(authorizer, actor, Attributes("impersonate", True, api_group=_AUTHN,
                                             resource="uids", name=uid))
    for key, values in extra.items():
        for value in values:
            _check(authorizer, actor, Attributes("impersonate", True, api_group=_AUTHN,
                                                 resource="userextras", subresource=key,
                                                 name=value))
    if not groups and sa is not None:
        groups = [SERVICE_ACCOUNTS, f"{SERVICE_ACCOUNTS}:{sa[0]}"]
    return authenticated(UserInfo(name, tuple(groups), uid, extra))
