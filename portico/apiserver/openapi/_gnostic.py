"""Encode a Swagger 2.0 document as gnostic's `openapi.v2.Document` protobuf message.

That is what kube-apiserver serves at `/openapi/v2` for
`Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf`, and the
only form client-go's `OpenAPISchema()` can read. Field numbers are those of
gnostic's `openapiv2/OpenAPIv2.proto`; only the fields Portico's documents use
are encoded (an unexpected key raises `ValueError` rather than vanishing).

Vendor extensions (`x-...`), `enum` members and defaults are gnostic `Any`
messages holding YAML text; JSON is YAML, so they hold the JSON encoding.
Proto3 leaves out empty strings, false and empty lists, and so does this.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import orjson

from portico.apiserver.protobuf._wire import WireType, encode_bytes, encode_tag, encode_varint

Encoder = Callable[[Any], bytes]



def _bytes(number: int, data: bytes) -> bytes:
    return encode_bytes(number, data)


def _string(number: int, value: str) -> bytes:
    return _bytes(number, value.encode()) if value else b""


def _strings(number: int, values: Iterable[str]) -> bytes:
    return b"".join(_bytes(number, v.encode()) for v in values)


def _bool(number: int, value: bool) -> bytes:
    return encode_tag(number, WireType.VARINT) + b"\x01" if value else b""


def _message(number: int, data: bytes) -> bytes:
    """An embedded message; present (even if empty) so that a oneof is set."""
    return _bytes(number, data)


def _any(value: Any) -> bytes:
    """gnostic `Any`: field 2 is the YAML (here JSON) text of the value."""
    return _string(2, orjson.dumps(value).decode())


def _named(number: int, items: Iterable[tuple[str, bytes]]) -> bytes:
    """A map as gnostic's ordered `Named*` messages: name = 1, value = 2."""
    return b"".join(_message(number, _string(1, name) + _message(2, value))
                    for name, value in items)


def _extensions(number: int, node: dict[str, Any]) -> bytes:
    return _named(number, ((k, _any(v)) for k, v in node.items() if k.startswith("x-")))


def _check(node: dict[str, Any], known: Iterable[str], what: str) -> None:
    unknown = sorted(k for k in node if k not in known and not k.startswith("x-"))
    if unknown:
        raise ValueError(f"cannot encode {what} keys {unknown}")


_SCHEMA_KEYS = ("$ref", "format", "title", "description", "default", "required", "enum",
                "additionalProperties", "type", "items", "allOf", "properties")


def schema(node: dict[str, Any]) -> bytes:
    """gnostic `Schema`."""
    _check(node, _SCHEMA_KEYS, "schema")
    out = [_string(1, node.get("$ref", "")), _string(2, node.get("format", "")),
           _string(3, node.get("title", "")), _string(4, node.get("description", ""))]
    if "default" in node:
        out.append(_message(5, _any(node["default"])))
    out.append(_strings(19, node.get("required", ())))
    out.extend(_message(20, _any(v)) for v in node.get("enum", ()))
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        out.append(_message(21, _message(1, schema(extra))))
    elif isinstance(extra, bool):
        out.append(_message(21, encode_tag(2, WireType.VARINT) + encode_varint(int(extra))))
    if "type" in node:
        kinds = node["type"] if isinstance(node["type"], list) else [node["type"]]
        out.append(_message(22, _strings(1, kinds)))
    if "items" in node:
        items = node["items"] if isinstance(node["items"], list) else [node["items"]]
        out.append(_message(23, b"".join(_message(1, schema(i)) for i in items)))
    out.extend(_message(24, schema(s)) for s in node.get("allOf", ()))
    if "properties" in node:
        props = node["properties"].items()
        out.append(_message(25, _named(1, ((k, schema(v)) for k, v in props))))
    out.append(_extensions(31, node))
    return b"".join(out)


def _non_body(param: dict[str, Any]) -> bytes:
    """Query (`NonBodyParameter` field 3) or path (field 4) parameter sub-schema."""
    where = param["in"]
    if where == "query":
        _check(param, ("required", "in", "description", "name", "type", "format",
                       "uniqueItems"), "query parameter")
        numbers = {"type": 6, "format": 7, "uniqueItems": 20, "x": 23, "which": 3}
    elif where == "path":
        _check(param, ("required", "in", "description", "name", "type", "format",
                       "uniqueItems"), "path parameter")
        numbers = {"type": 5, "format": 6, "uniqueItems": 19, "x": 22, "which": 4}
    else:
        raise ValueError(f"cannot encode a parameter in {where!r}")
    data = (_bool(1, param.get("required", False)) + _string(2, where)
            + _string(3, param.get("description", "")) + _string(4, param["name"])
            + _string(numbers["type"], param.get("type", ""))
            + _string(numbers["format"], param.get("format", ""))
            + _bool(numbers["uniqueItems"], param.get("uniqueItems", False))
            + _extensions(numbers["x"], param))
    return _message(numbers["which"], data)


def parameter(param: dict[str, Any]) -> bytes:
    """gnostic `ParametersItem` holding a `Parameter` (body or non-body)."""
    if param["in"] == "body":
        _check(param, ("description", "name", "in", "required", "schema"), "body parameter")
        body = (_string(1, param.get("description", "")) + _string(2, param["name"])
                + _string(3, "body") + _bool(4, param.get("required", False))
                + _message(5, schema(param["schema"])) + _extensions(6, param))
        inner = _message(1, body)
    else:
        inner = _message(2, _non_body(param))
    return _message(1, inner)


def _response(response: dict[str, Any]) -> bytes:
    _check(response, ("description", "schema"), "response")
    out = _string(1, response.get("description", ""))
    if "schema" in response:
        out += _message(2, _message(1, schema(response["schema"])))
    return out + _extensions(5, response)


def operation(op: dict[str, Any]) -> bytes:
    """gnostic `Operation`."""
    _check(op, ("tags", "summary", "description", "operationId", "produces", "consumes",
                "parameters", "responses", "schemes", "deprecated"), "operation")
    codes = ((code, _message(1, _response(r))) for code, r in op.get("responses", {}).items())
    return (_strings(1, op.get("tags", ())) + _string(2, op.get("summary", ""))
            + _string(3, op.get("description", "")) + _string(5, op.get("operationId", ""))
            + _strings(6, op.get("produces", ())) + _strings(7, op.get("consumes", ()))
            + b"".join(_message(8, parameter(p)) for p in op.get("parameters", ()))
            + _message(9, _named(1, codes)) + _strings(10, op.get("schemes", ()))
            + _bool(11, op.get("deprecated", False)) + _extensions(13, op))


_PATH_ITEM_FIELDS = {"get": 2, "put": 3, "post": 4, "delete": 5, "options": 6, "head": 7,
                     "patch": 8}


def path_item(item: dict[str, Any]) -> bytes:
    """gnostic `PathItem`."""
    _check(item, (*_PATH_ITEM_FIELDS, "parameters"), "path item")
    out = [_message(number, operation(item[method]))
           for method, number in _PATH_ITEM_FIELDS.items() if method in item]
    out.extend(_message(9, parameter(p)) for p in item.get("parameters", ()))
    out.append(_extensions(10, item))
    return b"".join(out)


def encode_document(doc: dict[str, Any]) -> bytes:
    """gnostic `Document` (swagger = 1, info = 2, paths = 8, definitions = 9)."""
    _check(doc, ("swagger", "info", "paths", "definitions"), "document")
    info = doc.get("info", {})
    _check(info, ("title", "version", "description"), "info")
    paths = _named(2, ((url, path_item(item)) for url, item in doc.get("paths", {}).items()))
    definitions = _named(1, ((n, schema(s)) for n, s in doc.get("definitions", {}).items()))
    return (_string(1, doc.get("swagger", "")) + _message(2, _string(1, info.get("title", ""))
            + _string(2, info.get("version", "")) + _string(3, info.get("description", "")))
            + _message(8, paths) + _message(9, definitions) + _extensions(16, doc))
