"""`GET /openapi/v2`: one Swagger 2.0 document for every served kind, JSON or protobuf.

kubectl reads it for client-side validation, which it still does wherever the
v3 document cannot vouch for server-side `fieldValidation`: always for a
`kind: List` (`kubectl apply|create -f` of what `kubectl get a,b -o yaml`
prints); without it such a file fails with "error validating data: the server
could not find the requested resource". kubectl asks for protobuf
(`Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf`, a gnostic
`openapi_v2.Document`, see `_gnostic`); other clients get JSON.

The document is derived from the v3 parts (`collect`), so both versions describe
the same paths and definitions, in v2's dialect:

- refs point at `#/definitions/<name>`, and a ref keeps its sibling keys (a
  property's description) instead of being wrapped in `allOf`;
- Quantity is a plain string, IntOrString a string of format int-or-string;
- a request body is a `body` parameter, its media types the operation's
  `consumes`; responses carry a `schema`, their media types go to `produces`;
- query and path parameters carry `type` themselves instead of a `schema`.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from portico.apiserver.openapi._convert import (
    QUANTITY,
    REF_PREFIX,
    components,
    map_subschemas,
)
from portico.apiserver.openapi._documents import collect, signature
from portico.apiserver.openapi._gnostic import encode_document
from portico.apiserver.resources._base import ResourceType
from portico.apiserver.schema import definitions
from portico.apiserver.schema._definitions import KUBERNETES_VERSION

Schema = dict[str, Any]

DEFINITIONS = "#/definitions/"
JSON = "application/json"
PROTOBUF = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
# (media type asked for, representation served): kube-openapi's table, in its order;
# the `@` spelling is what client-go asks for, the reply names the `.v1.0` one.
_ACCEPTED = (
    ("application/json", "json"),
    ("application/com.github.proto-openapi.spec.v2@v1.0+protobuf", "protobuf"),
    (PROTOBUF, "protobuf"),
)
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch")
_COPIED = ("description", "operationId", "tags")


@dataclass(frozen=True)
class SwaggerDocument:
    """The v2 document, its two serializations and its entity tag (the JSON's hash)."""

    body: dict[str, Any]
    json: bytes
    protobuf: bytes
    etag: str


_CACHE: dict[tuple[Any, ...], SwaggerDocument] = {}
_LOCK = threading.Lock()


def v2_schema(schema: Schema) -> Schema:
    """A v3 schema in v2 form (refs to `#/definitions/`, no `allOf` wrapping of refs)."""
    wrapped = schema.get("allOf")
    if isinstance(wrapped, list) and len(wrapped) == 1 and set(wrapped[0]) == {"$ref"}:
        schema = {**{k: v for k, v in schema.items() if k != "allOf"}, **wrapped[0]}
    out: Schema = {}
    for key, value in schema.items():
        if key == "$ref":
            out[key] = DEFINITIONS + value.removeprefix(REF_PREFIX)
        else:
            out[key] = map_subschemas(key, value, v2_schema)
    return out


def _definitions(roots: list[str], extra: dict[str, Schema]) -> dict[str, Schema]:
    out = {name: v2_schema(schema)
           for name, schema in components(definitions(), roots).items()}
    if QUANTITY in out:
        out[QUANTITY] = {"description": out[QUANTITY].get("description", ""), "type": "string"}
    out.update(extra)
    return dict(sorted(out.items()))


def _parameter(param: dict[str, Any]) -> dict[str, Any]:
    """A v3 query/path parameter (type under `schema`) in v2 form (type inline)."""
    out = {k: v for k, v in param.items() if k != "schema"}
    out.update(param.get("schema", {}))
    return dict(sorted(out.items()))


def _body_schema(content: dict[str, Any]) -> Schema:
    first = next(iter(content.values()))
    return v2_schema(first["schema"])


def _responses(responses: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    out: dict[str, Any] = {}
    produces: list[str] = []
    for code, response in responses.items():
        content = response.get("content") or {}
        converted: dict[str, Any] = {"description": response["description"]}
        if content:
            converted["schema"] = _body_schema(content)
            produces.extend(t for t in content if t not in produces)
        out[code] = converted
    return out, produces


def _operation(op: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {k: op[k] for k in _COPIED if k in op}
    params = [_parameter(p) for p in op.get("parameters", [])]
    body = op.get("requestBody")
    if body:
        out["consumes"] = list(body["content"])
        params.insert(0, {"in": "body", "name": "body", "required": bool(body.get("required")),
                          "schema": _body_schema(body["content"])})
    if params:
        out["parameters"] = params
    out["responses"], out["produces"] = _responses(op.get("responses", {}))
    out["schemes"] = ["https"]
    out.update({k: v for k, v in op.items() if k.startswith("x-")})
    return out


def _path_item(item: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {m: _operation(item[m]) for m in _METHODS if m in item}
    if item.get("parameters"):
        out["parameters"] = [_parameter(p) for p in item["parameters"]]
    return out


def swagger(rts: Sequence[ResourceType]) -> dict[str, Any]:
    """The Swagger 2.0 document of `rts` (uncached; see `swagger_document`)."""
    parts = collect(rts)
    return {
        "definitions": _definitions(parts.roots, {**parts.extra, **parts.extra_v2}),
        "info": {"title": "Kubernetes", "version": KUBERNETES_VERSION},
        "paths": {url: _path_item(item) for url, item in sorted(parts.paths.items())},
        "swagger": "2.0",
    }


def swagger_document(resources: Sequence[ResourceType]) -> SwaggerDocument:
    """The cached v2 document of every served resource, in both representations."""
    key = signature(resources)
    with _LOCK:
        cached = _CACHE.get(key)
        if cached is None:
            body = swagger(resources)
            data = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
            etag = '"' + hashlib.sha512(data).hexdigest().upper() + '"'
            cached = SwaggerDocument(body, data, encode_document(body), etag)
            _CACHE[key] = cached
    return cached


def _clauses(accept: str) -> list[tuple[str, str]]:
    """(type, subtype) of each Accept clause, highest q first, then most specific."""
    ranked = []
    for index, clause in enumerate(accept.split(",")):
        media, *params = (p.strip() for p in clause.split(";"))
        if "/" not in media:
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        kind, _, sub = media.lower().partition("/")
        if q > 0:
            ranked.append((-q, (kind == "*") + (sub == "*"), index, kind, sub))
    return [(kind, sub) for *_, kind, sub in sorted(ranked)]


def negotiate(accept: str) -> str | None:
    """The representation ("json" or "protobuf") to serve, or None (406)."""
    for kind, sub in _clauses(accept or "*/*"):
        for media, representation in _ACCEPTED:
            want_kind, want_sub = media.split("/")
            if kind in (want_kind, "*") and sub in (want_sub, "*"):
                return representation
    return None


def openapi_v2(resources: Sequence[ResourceType], accept: str,
               if_none_match: str = "") -> tuple[int, bytes, dict[str, str]]:
    """(status, body, headers) of `GET /openapi/v2`, negotiated as kube-apiserver does.

    200 with the document, 304 when `If-None-Match` holds its entity tag, 406
    when the Accept header allows neither JSON nor the protobuf form.
    """
    representation = negotiate(accept)
    if representation is None:
        return 406, b"", {"Vary": "Accept"}
    doc = swagger_document(resources)
    data, content_type = ((doc.protobuf, PROTOBUF) if representation == "protobuf"
                          else (doc.json, JSON))
    headers = {"Content-Type": content_type, "ETag": doc.etag, "Vary": "Accept"}
    if doc.etag in {tag.strip() for tag in if_none_match.split(",")}:
        return 304, b"", headers
    return 200, data, headers
