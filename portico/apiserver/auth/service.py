"""The API server's authentication and authorization, in one place (`Auth.middleware`).

Every request passes here before routing, as kube-apiserver's handler chain
(authentication -> impersonation -> authorization) precedes its REST handlers:
1. the public health and version paths pass untouched;
2. the user is authenticated (`_authn`; 401 if not), impersonation applied;
3. the request's attributes (`_attributes`) are authorized (`_authorizer`; 403 in
   kube-apiserver's words if not), for every kind alike, custom resources included;
4. the auth API itself (reviews, TokenRequest, OIDC discovery) is answered here;
   everything else goes on to the REST handlers with the user in `CURRENT`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from portico.apiserver import errors
from portico.apiserver._bodies import json_response, read_object
from portico.apiserver.auth import _reviews as reviews
from portico.apiserver.auth._attributes import Attributes, attributes
from portico.apiserver.auth._authn import Authenticator
from portico.apiserver.auth._authorizer import Authorizer, PolicySource
from portico.apiserver.auth._context import CURRENT, RequestContext
from portico.apiserver.auth._forbidden import forbidden
from portico.apiserver.auth._impersonation import GROUP, impersonate
from portico.apiserver.auth._jwt import SigningKey
from portico.apiserver.auth._node import PodGraph
from portico.apiserver.auth._token_request import token_request
from portico.apiserver.auth._tokens import TokenIssuer
from portico.apiserver.auth._user import UserInfo
from portico.apiserver.registry import Registry
from portico.apiserver.registry._objects import decode

Object = dict[str, Any]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PUBLIC_PATHS = ("/healthz", "/livez", "/readyz", "/version")
OIDC_CONFIG = "/.well-known/openid-configuration"
JWKS = "/openid/v1/jwks"
_AUTHZ, _AUTHN = "authorization.k8s.io", "authentication.k8s.io"


class Auth:
    def __init__(self, registry: Registry, pki_dir: Path, static_tokens: dict[str, UserInfo],
                 external_address: str) -> None:
        self.registry = registry
        self.issuer = TokenIssuer(SigningKey.load_or_create(pki_dir / "sa.key"), self.lookup)
        self.authn = Authenticator(self.issuer, static_tokens)
        self.policies = PolicySource(registry.store)
        self.authorizer = Authorizer(self.policies, PodGraph(registry.store, decode))
        self.external_address = external_address

    def lookup(self, plural: str, namespace: str, name: str) -> Object | None:
        rt = self.registry.find("", "v1", plural)
        assert rt is not None
        try:
            return self.registry.get(rt, namespace if rt.namespaced else "", name)
        except errors.StatusError:
            return None

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in PUBLIC_PATHS:
            return await handler(request)
        peer = request.transport.get_extra_info("peercert") if request.transport else None
        user = self.authn.user(peer, request.headers.get("Authorization", ""))
        if user is None:
            raise errors.unauthorized()
        user = impersonate(self.authorizer, user, request.headers,
                           request.headers.getall(GROUP, []))
        attrs = attributes(request.method, request.path, request.query)
        decision = self.authorizer.authorize(user, attrs)
        if not decision.allowed:
            raise forbidden(user.name, attrs, decision.reason)
        token = CURRENT.set(RequestContext(user, self.authorizer))
        try:
            own = self._own(attrs)
            if own is not None:
                return await own(request, user, attrs)
            return await handler(request)
        finally:
            CURRENT.reset(token)

    def _own(self, attrs: Attributes) -> Callable[[web.Request, UserInfo, Attributes],
                                                  Awaitable[web.Response]] | None:
        if not attrs.resource_request:
            return self._oidc if attrs.path in (OIDC_CONFIG, JWKS) else None
        if attrs.verb != "create":
            return None
        if attrs.api_group == "" and (attrs.resource, attrs.subresource) == (
                "serviceaccounts", "token"):
            return self._token
        if attrs.api_group in (_AUTHZ, _AUTHN) and attrs.resource in _REVIEWS:
            return self._review
        return None

    async def _oidc(self, request: web.Request, user: UserInfo,
                    attrs: Attributes) -> web.Response:
        if attrs.path == JWKS:
            return json_response(self.issuer.key.jwks(), content_type="application/jwk-set+json")
        return json_response({
            "issuer": self.issuer.issuer,
            "jwks_uri": f"https://{self.external_address}{JWKS}",
            "response_types_supported": ["id_token"], "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["ES256"]})

    async def _token(self, request: web.Request, user: UserInfo,
                     attrs: Attributes) -> web.Response:
        body = await read_object(request, "TokenRequest")
        return json_response(token_request(self.issuer, body, attrs.namespace, attrs.name,
                                           lambda n: self.lookup("nodes", "", n)), 201)

    async def _review(self, request: web.Request, user: UserInfo,
                      attrs: Attributes) -> web.Response:
        kind = _REVIEWS[attrs.resource]
        body = await read_object(request, kind)
        spec = body.get("spec") or {}
        if kind == "SelfSubjectAccessReview":
            reply = reviews.access_review(self.authorizer, user, body, kind)
        elif kind == "SubjectAccessReview":
            reply = reviews.access_review(self.authorizer, reviews.subject(spec), body, kind)
        elif kind == "LocalSubjectAccessReview":
            reply = reviews.access_review(self.authorizer, reviews.subject(spec), body, kind,
                                          attrs.namespace)
        elif kind == "SelfSubjectRulesReview":
            reply = reviews.rules_review(self.authorizer, user, body)
        elif kind == "SelfSubjectReview":
            reply = reviews.self_review(user, body)
        else:
            audiences = [str(a) for a in spec.get("audiences") or []]
            reviewed = self.authn.token_user(str(spec.get("token", "")), tuple(audiences))
            reply = reviews.token_review(reviewed, body,
                                         audiences or list(self.issuer.audiences))
        return json_response(reply, 201)


_REVIEWS = {"selfsubjectaccessreviews": "SelfSubjectAccessReview",
            "subjectaccessreviews": "SubjectAccessReview",
            "localsubjectaccessreviews": "LocalSubjectAccessReview",
            "selfsubjectrulesreviews": "SelfSubjectRulesReview",
            "selfsubjectreviews": "SelfSubjectReview",
            "tokenreviews": "TokenReview"}
