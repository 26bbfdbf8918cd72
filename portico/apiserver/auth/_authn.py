"""Who is asking: client certificates, ServiceAccount tokens and static tokens.

As kube-apiserver's authenticator union: a client certificate signed by the
cluster CA (the TLS layer verified it) is the user CN in groups O; a bearer token
is a ServiceAccount JWT (`_tokens`) or one of the static tokens of the PKI
directory (`admin.token`: `kubernetes-admin` in `system:masters`). A presented
credential that fails is a 401; no credential at all is a 401 too
(`--anonymous-auth=false`), except on the public health and version paths.
The certificate comes first when both are presented, as x509 precedes tokens in
kube-apiserver's union. Verified JWT claims are cached by token (the signature is
the costly part); the objects a token is bound to are looked up at every request.
"""

from __future__ import annotations

import functools
import hmac
from typing import Any

from portico.apiserver.auth._jwt import InvalidToken
from portico.apiserver.auth._tokens import TokenIssuer
from portico.apiserver.auth._user import UserInfo, authenticated


def certificate_user(peercert: dict[str, Any]) -> UserInfo:
    return _subject_user(peercert.get("subject", ()))


@functools.lru_cache(maxsize=1024)
def _subject_user(subject: tuple[Any, ...]) -> UserInfo:
    name, groups = "", []
    for rdn in subject:
        for key, value in rdn:
            if key == "commonName":
                name = value
            elif key == "organizationName":
                groups.append(value)
    return authenticated(UserInfo(name, tuple(groups)))


class Authenticator:
    def __init__(self, issuer: TokenIssuer, static_tokens: dict[str, UserInfo]) -> None:
        self.issuer = issuer
        self.static_tokens = static_tokens

    def token_user(self, token: str, audiences: tuple[str, ...] = ()) -> UserInfo | None:
        for known, user in self.static_tokens.items():
            if hmac.compare_digest(token, known):
                return authenticated(user)
        if token.count(".") != 2:
            return None
        try:
            return self.issuer.authenticate(token, audiences)
        except InvalidToken:
            return None

    def user(self, peercert: dict[str, Any] | None, authorization: str) -> UserInfo | None:
        """The request's user, or None (401)."""
        if peercert:
            return certificate_user(peercert)
        if authorization.startswith("Bearer "):
            return self.token_user(authorization[7:].strip())
        return None
