"""Decode `application/vnd.kubernetes.protobuf` request bodies into JSON-shaped dicts.

kubectl's imperative generators (`create service|deployment|namespace|secret|
configmap|serviceaccount|ingress`) POST protobuf without asking first; this
package turns such a body into exactly the dict the JSON path would have
produced, so the rest of the server never sees protobuf. Responses stay JSON:
client-go asks with `Accept: application/vnd.kubernetes.protobuf,
application/json`, so a JSON reply is acceptable.

`decode(body)` reads the `k8s\\x00` envelope and its `runtime.Unknown`, finds the
kind's schema, and hands the object message to `_decode`.
"""

from __future__ import annotations

from typing import Any

from portico.apiserver.errors import bad_request
from portico.apiserver.protobuf._decode import MAGIC, PROTOBUF_CONTENT_TYPE, decode_message
from portico.apiserver.protobuf._fields import message_fields
from portico.apiserver.protobuf._wire import WireError, WireType, iter_fields
from portico.apiserver.schema import definitions
from portico.model.kinds import GroupVersionKind

__all__ = ["PROTOBUF_CONTENT_TYPE", "decode"]


def _string(fields: dict[int, bytes], number: int) -> str:
    return fields.get(number, b"").decode("utf-8", errors="replace")


def _length_delimited(data: bytes) -> dict[int, bytes]:
    """The bytes-typed fields of a small message (last occurrence wins)."""
    out: dict[int, bytes] = {}
    for field in iter_fields(data):
        if field.wire_type == WireType.BYTES and isinstance(field.value, bytes):
            out[field.number] = field.value
    return out


def _envelope(body: bytes) -> tuple[str, str, bytes]:
    """(apiVersion, kind, raw object message) from a `k8s\\x00` + runtime.Unknown body."""
    if not body:
        raise WireError("empty data")
    if not body.startswith(MAGIC):
        prefix = " ".join(str(b) for b in MAGIC)
        raise WireError(
            f"provided data does not appear to be a protobuf message, expected prefix [{prefix}]"
        )
    unknown = _length_delimited(body[len(MAGIC) :])
    type_meta = _length_delimited(unknown.get(1, b""))
    encoding = _string(unknown, 3)
    if encoding:
        raise WireError(f"unsupported content encoding {encoding!r}")
    return _string(type_meta, 1), _string(type_meta, 2), unknown.get(2, b"")


def decode(body: bytes) -> dict[str, Any]:
    """The JSON-shaped object in a protobuf request body.

    Raises a 400 BadRequest `StatusError` for malformed input or a kind this
    decoder has no field table for.
    """
    try:
        api_version, kind, raw = _envelope(body)
    except WireError as exc:
        raise bad_request(f"the object provided is unrecognized: {exc}") from exc
    group, _, version = api_version.rpartition("/")
    defs = definitions()
    name = defs.name_for(GroupVersionKind(group, version, kind))
    if not kind or name is None or message_fields(name) is None:
        raise bad_request(f'no kind "{kind}" is registered for version "{api_version}"')
    try:
        obj = decode_message(defs, name, defs.defs[name], raw)
    except (WireError, KeyError) as exc:
        raise bad_request(
            f'{kind} in version "{version}" cannot be handled as a {kind}: {exc}'
        ) from exc
    return {"apiVersion": api_version, "kind": kind, **obj}
