"""Who made a request: kube-apiserver's `user.Info` and the well-known names.

Authenticators produce a `UserInfo`; every authenticated user also belongs to
`system:authenticated` (added once, by `authenticated()`), as the apiserver's
authentication handler does. A ServiceAccount's user name is
`system:serviceaccount:<namespace>:<name>`, its groups `system:serviceaccounts` and
`system:serviceaccounts:<namespace>`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MASTERS = "system:masters"
NODES = "system:nodes"
AUTHENTICATED = "system:authenticated"
UNAUTHENTICATED = "system:unauthenticated"
ANONYMOUS = "system:anonymous"
SERVICE_ACCOUNTS = "system:serviceaccounts"
SA_PREFIX = "system:serviceaccount:"
NODE_PREFIX = "system:node:"


@dataclass(frozen=True)
class UserInfo:
    name: str
    groups: tuple[str, ...] = ()
    uid: str = ""
    extra: dict[str, tuple[str, ...]] = field(default_factory=dict, hash=False, compare=False)

    def key(self) -> tuple[str, tuple[str, ...]]:
        """What an authorization decision depends on (the decision cache's key)."""
        return self.name, self.groups

    def as_object(self) -> dict[str, object]:
        """The `UserInfo` of authentication.k8s.io (reviews, whoami)."""
        out: dict[str, object] = {"username": self.name}
        if self.uid:
            out["uid"] = self.uid
        if self.groups:
            out["groups"] = list(self.groups)
        if self.extra:
            out["extra"] = {k: list(v) for k, v in self.extra.items()}
        return out


def authenticated(user: UserInfo) -> UserInfo:
    if AUTHENTICATED in user.groups or user.name == ANONYMOUS:
        return user
    return UserInfo(user.name, (*user.groups, AUTHENTICATED), user.uid, user.extra)


def service_account_user(namespace: str, name: str, uid: str = "",
                         extra: dict[str, tuple[str, ...]] | None = None) -> UserInfo:
    return UserInfo(f"{SA_PREFIX}{namespace}:{name}",
                    (SERVICE_ACCOUNTS, f"{SERVICE_ACCOUNTS}:{namespace}", AUTHENTICATED),
                    uid, extra or {})


def split_service_account(username: str) -> tuple[str, str] | None:
    """(namespace, name) of a ServiceAccount user name, else None."""
    if not username.startswith(SA_PREFIX):
        return None
    parts = username[len(SA_PREFIX):].split(":")
    return (parts[0], parts[1]) if len(parts) == 2 and all(parts) else None
