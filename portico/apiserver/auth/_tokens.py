"""ServiceAccount tokens: bound tokens (TokenRequest) and legacy Secret tokens, as kube-apiserver.

A bound token is a JWT with the issuer, audiences, `exp`/`iat`/`nbf`, a `jti` and
the private `kubernetes.io` claim naming the namespace, the ServiceAccount (name
and uid) and, when bound, the Pod or Secret (and the Pod's node). It is valid
while it is unexpired, meant for one of the API server's audiences, and every
object it names still exists with the same uid (a Pod past its deletionTimestamp
no longer counts): deleting the Pod or the ServiceAccount revokes it.
A legacy token (issuer `kubernetes/serviceaccount`, no expiry) is valid while its
`kubernetes.io/service-account-token` Secret exists and holds that very token.
"""

from __future__ import annotations

import base64
import datetime
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from portico.apiserver.auth._jwt import InvalidToken, SigningKey
from portico.apiserver.auth._user import UserInfo, service_account_user

Object = dict[str, Any]
Lookup = Callable[[str, str, str], Object | None]  # (plural, namespace, name) -> object
ISSUER = "https://kubernetes.default.svc.cluster.local"
LEGACY_ISSUER = "kubernetes/serviceaccount"
CLAIM = "kubernetes.io"
MIN_EXPIRATION = 600
DEFAULT_EXPIRATION = 3600
_EXTRA = "authentication.kubernetes.io/"
_VERIFIED_LIMIT = 10_000


@dataclass(frozen=True)
class Binding:
    """What a token is bound to: a Pod (with its node) or a Secret."""

    kind: str
    name: str
    uid: str
    node_name: str = ""
    node_uid: str = ""


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class TokenIssuer:
    def __init__(self, key: SigningKey, lookup: Lookup, issuer: str = ISSUER) -> None:
        self.key = key
        self.lookup = lookup
        self.issuer = issuer
        self.audiences = (issuer,)
        self._verified: dict[str, Object] = {}  # token -> claims whose signature is good

    def issue(self, sa: Object, audiences: list[str], seconds: int,
              bound: Binding | None = None) -> tuple[str, datetime.datetime]:
        now = _now().replace(microsecond=0)
        expires = now + datetime.timedelta(seconds=seconds)
        meta = sa["metadata"]
        private: Object = {"namespace": meta["namespace"],
                           "serviceaccount": {"name": meta["name"], "uid": meta["uid"]}}
        if bound is not None:
            private[bound.kind.lower()] = {"name": bound.name, "uid": bound.uid}
            if bound.node_name:
                private["node"] = {"name": bound.node_name, "uid": bound.node_uid}
        claims = {"aud": audiences or list(self.audiences), "exp": int(expires.timestamp()),
                  "iat": int(now.timestamp()), "iss": self.issuer, "jti": str(uuid.uuid4()),
                  "nbf": int(now.timestamp()),
                  "sub": f"system:serviceaccount:{meta['namespace']}:{meta['name']}",
                  CLAIM: private}
        return self.key.sign(claims), expires

    def authenticate(self, token: str, audiences: tuple[str, ...] = ()) -> UserInfo:
        """The user a token stands for; raises InvalidToken."""
        claims = self._verified.get(token)
        if claims is None:
            claims = self.key.verify(token)
            if len(self._verified) >= _VERIFIED_LIMIT:
                self._verified.clear()
            self._verified[token] = claims
        if claims.get("iss") == LEGACY_ISSUER:
            return self._legacy_user(token, claims)
        if claims.get("iss") != self.issuer:
            raise InvalidToken("unknown issuer")
        aud = claims.get("aud")
        aud_list = aud if isinstance(aud, list) else [aud]
        if not set(aud_list) & set(audiences or self.audiences):
            raise InvalidToken("token audiences is invalid for the target audiences")
        now = int(_now().timestamp())
        if not isinstance(claims.get("exp"), int) or claims["exp"] <= now:
            raise InvalidToken("service account token has expired")
        if isinstance(claims.get("nbf"), int) and claims["nbf"] > now + 60:
            raise InvalidToken("service account token is not valid yet")
        private = claims.get(CLAIM)
        if not isinstance(private, dict):
            raise InvalidToken("missing kubernetes.io claim")
        namespace = str(private.get("namespace", ""))
        sa_ref = private.get("serviceaccount") or {}
        self._require("serviceaccounts", namespace, sa_ref)
        extra: dict[str, tuple[str, ...]] = {
            f"{_EXTRA}credential-id": (f"JTI={claims.get('jti')}",)}
        for kind, plural in (("pod", "pods"), ("secret", "secrets")):
            ref = private.get(kind)
            if isinstance(ref, dict):
                obj = self._require(plural, namespace, ref)
                if kind == "pod" and _deleted(obj):
                    raise InvalidToken("service account token has been invalidated")
                extra[f"{_EXTRA}{kind}-name"] = (str(ref.get("name")),)
                extra[f"{_EXTRA}{kind}-uid"] = (str(ref.get("uid")),)
        node = private.get("node")
        if isinstance(node, dict):
            extra[f"{_EXTRA}node-name"] = (str(node.get("name")),)
            extra[f"{_EXTRA}node-uid"] = (str(node.get("uid")),)
        return service_account_user(namespace, str(sa_ref.get("name")), str(sa_ref.get("uid")),
                                    extra)

    def _require(self, plural: str, namespace: str, ref: Object) -> Object:
        obj = self.lookup(plural, namespace, str(ref.get("name", "")))
        if obj is None or obj["metadata"].get("uid") != ref.get("uid"):
            raise InvalidToken(f"{plural[:-1]} {namespace}/{ref.get('name')} has been deleted")
        return obj

    def _legacy_user(self, token: str, claims: Object) -> UserInfo:
        prefix = "kubernetes.io/serviceaccount/"
        namespace = str(claims.get(f"{prefix}namespace", ""))
        secret = self.lookup("secrets", namespace, str(claims.get(f"{prefix}secret.name", "")))
        stored = ((secret or {}).get("data") or {}).get("token", "")

        if not secret or base64.b64decode(stored or "").decode(errors="replace") != token:
            raise InvalidToken("the token's Secret has been deleted")
        name = str(claims.get(f"{prefix}service-account.name", ""))
        sa = self.lookup("serviceaccounts", namespace, name)
        if sa is None or sa["metadata"].get("uid") != claims.get(f"{prefix}service-account.uid"):
            raise InvalidToken("the token's ServiceAccount has been deleted")
        return service_account_user(namespace, name, sa["metadata"]["uid"])


def legacy_claims(sa: Object, secret_name: str) -> Object:
    """The claims of a legacy Secret token (no expiry; valid while the Secret holds it)."""
    meta = sa["metadata"]
    prefix = "kubernetes.io/serviceaccount/"
    return {"iss": LEGACY_ISSUER, f"{prefix}namespace": meta["namespace"],
            f"{prefix}secret.name": secret_name,
            f"{prefix}service-account.name": meta["name"],
            f"{prefix}service-account.uid": meta["uid"],
            "sub": f"system:serviceaccount:{meta['namespace']}:{meta['name']}"}


def _deleted(obj: Object) -> bool:
    stamp = obj["metadata"].get("deletionTimestamp")
    if not stamp:
        return False
    when = datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return when < _now()
