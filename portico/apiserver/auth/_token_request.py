"""`serviceaccounts/<name>/token` (TokenRequest), as kube-apiserver's token REST storage.

`spec.audiences` defaults to the API server's own, `spec.expirationSeconds` to an
hour (at least ten minutes). `spec.boundObjectRef` binds the token to a Pod (the
token then also names the Pod's node) or a Secret, which must exist, with the
given uid when one is given; the token dies with it.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from portico.apiserver import errors
from portico.apiserver.auth._tokens import (
    DEFAULT_EXPIRATION,
    MIN_EXPIRATION,
    Binding,
    Lookup,
    TokenIssuer,
)

Object = dict[str, Any]
GROUP = "authentication.k8s.io"
_MAX_EXPIRATION = 1 << 32
_BINDABLE = {"Pod": "pods", "Secret": "secrets"}


def _invalid(name: str, path: str, value: Any, detail: str) -> errors.StatusError:
    return errors.invalid_object("TokenRequest", name, [errors.invalid(path, value, detail)],
                                 GROUP)


def _binding(ref: Object, namespace: str, name: str, lookup: Lookup,
             node_lookup: Callable[[str], Object | None]) -> Binding:
    kind = str(ref.get("kind", ""))
    plural = _BINDABLE.get(kind)
    if plural is None:
        raise _invalid(name, "spec.boundObjectRef.kind", kind,
                       'must be one of: "Node", "Pod", "Secret"')
    obj = lookup(plural, namespace, str(ref.get("name", "")))
    if obj is None:
        raise errors.not_found(plural, str(ref.get("name", "")))
    uid = obj["metadata"]["uid"]
    if ref.get("uid") and ref["uid"] != uid:
        raise errors.conflict(plural, str(ref.get("name")), "", (
            f"the UID in the bound object reference ({ref['uid']}) does not match the UID in "
            f"record. The object might have been deleted and then recreated"))
    node_name = (obj.get("spec") or {}).get("nodeName", "") if kind == "Pod" else ""
    node = node_lookup(node_name) if node_name else None
    return Binding(kind, obj["metadata"]["name"], uid, node_name,
                   node["metadata"]["uid"] if node else "")


def token_request(issuer: TokenIssuer, body: Object, namespace: str, name: str,
                  node_lookup: Callable[[str], Object | None]) -> Object:
    sa = issuer.lookup("serviceaccounts", namespace, name)
    if sa is None:
        raise errors.not_found("serviceaccounts", name)
    spec = dict(body.get("spec") or {})
    seconds = spec.get("expirationSeconds", DEFAULT_EXPIRATION)
    if not isinstance(seconds, int) or seconds < MIN_EXPIRATION:
        raise _invalid(name, "spec.expirationSeconds", seconds,
                       "may not specify a duration less than 10 minutes")
    if seconds > _MAX_EXPIRATION:
        raise _invalid(name, "spec.expirationSeconds", seconds,
                       "may not specify a duration larger than 2^32 seconds")
    audiences = [str(a) for a in spec.get("audiences") or []] or list(issuer.audiences)
    ref = spec.get("boundObjectRef")
    bound = _binding(ref, namespace, name, issuer.lookup, node_lookup) if ref else None
    token, expires = issuer.issue(sa, audiences, seconds, bound)
    spec.update(audiences=audiences, expirationSeconds=seconds)
    meta = {"name": name, "namespace": namespace,
            "creationTimestamp": datetime.datetime.now(datetime.UTC).strftime(
                "%Y-%m-%dT%H:%M:%SZ")}
    return {"kind": "TokenRequest", "apiVersion": f"{GROUP}/v1", "metadata": meta,
            "spec": spec, "status": {"token": token,
                                     "expirationTimestamp": expires.strftime(
                                         "%Y-%m-%dT%H:%M:%SZ")}}
