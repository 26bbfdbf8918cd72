"""Turn a Kubernetes protobuf message into the JSON-shaped object.

The body is `k8s\\x00` followed by a `runtime.Unknown` {typeMeta{apiVersion=1,
kind=2}=1, raw=2, contentEncoding=3, contentType=4}; `raw` is the object's own
message. The object is decoded by walking two sources side by side: the field
table (`_fields`: number -> JSON name) and the kind's JSON schema, which says
whether a field is a string, integer, boolean, list, map or nested message.
A handful of apimachinery types have their own wire shape: IntOrString,
Quantity, Time, MicroTime, FieldsV1 and RawExtension.

Go semantics are reproduced so the result equals what the JSON path would have
produced: gogo-protobuf always writes non-pointer scalars, so a zero value in an
optional non-pointer field is dropped (`omitempty`), while pointer fields keep
their zero (`replicas: 0`). Non-pointer structs are always present (`status:
{}`); a zero `Time` is `null`. Unknown field numbers are skipped.
"""

from __future__ import annotations

import base64
import datetime
import struct
from typing import Any

import orjson

from portico.apiserver.protobuf._fields import FieldSpec, message_fields
from portico.apiserver.protobuf._wire import (
    Field,
    WireError,
    WireType,
    iter_fields,
    to_signed,
    unpack_varints,
)
from portico.apiserver.schema import Definitions

PROTOBUF_CONTENT_TYPE = "application/vnd.kubernetes.protobuf"
MAGIC = b"k8s\x00"

_META = "io.k8s.apimachinery.pkg.apis.meta.v1."
_INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
_QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
_RAW_EXTENSION = "io.k8s.apimachinery.pkg.runtime.RawExtension"
_SKIP = object()

Schema = dict[str, Any]


def _bytes(field: Field) -> bytes:
    if not isinstance(field.value, bytes):
        raise WireError(f"proto: wrong wireType = {int(field.wire_type)} for field")
    return field.value


def _varint(field: Field) -> int:
    if field.wire_type != WireType.VARINT or not isinstance(field.value, int):
        raise WireError(f"proto: wrong wireType = {int(field.wire_type)} for field")
    return field.value


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def _fields_by_number(data: bytes) -> dict[int, Field]:
    """The last occurrence of each field of a small message."""
    return {field.number: field for field in iter_fields(data)}


def _int_or_string(data: bytes) -> int | str:
    fields = _fields_by_number(data)
    kind = _varint(fields[1]) if 1 in fields else 0
    if kind == 1:
        return _text(_bytes(fields[3])) if 3 in fields else ""
    return to_signed(_varint(fields[2])) if 2 in fields else 0


def _quantity(data: bytes) -> str:
    fields = _fields_by_number(data)
    text = _text(_bytes(fields[1])) if 1 in fields else ""
    return text or "0"


def _time(data: bytes, micro: bool) -> str | None:
    if not data:
        return None
    fields = _fields_by_number(data)
    seconds = to_signed(_varint(fields[1])) if 1 in fields else 0
    nanos = to_signed(_varint(fields[2])) if 2 in fields and micro else 0
    epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
    try:
        moment = epoch + datetime.timedelta(seconds=seconds, microseconds=nanos // 1000)
    except OverflowError as exc:
        raise WireError(f"timestamp out of range: {seconds}") from exc
    if micro:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _raw_json(data: bytes) -> Any:
    fields = _fields_by_number(data)
    raw = _bytes(fields[1]) if 1 in fields else b""
    if not raw:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise WireError(f"embedded raw object is not JSON: {exc}") from exc


def _special(ref: str | None, data: bytes) -> Any:
    if ref == _INT_OR_STRING:
        return _int_or_string(data)
    if ref == _QUANTITY:
        return _quantity(data)
    if ref in (_META + "Time", _META + "MicroTime"):
        return _time(data, micro=ref.endswith("MicroTime"))
    if ref in (_META + "FieldsV1", _RAW_EXTENSION):
        return _raw_json(data)
    return _SKIP


_SPECIAL_REFS = {
    _INT_OR_STRING,
    _QUANTITY,
    _META + "Time",
    _META + "MicroTime",
    _META + "FieldsV1",
    _RAW_EXTENSION,
}


def _scalar(defs: Definitions, schema: Schema | None, field: Field) -> Any:
    """One non-repeated value of the type `schema` (unresolved) describes."""
    ref = defs.ref_name(schema)
    if ref in _SPECIAL_REFS:
        return _special(ref, _bytes(field))
    resolved = defs.resolve(schema)
    if resolved is None:
        return _SKIP
    if ref is not None and message_fields(ref) is not None:
        return decode_message(defs, ref, resolved, _bytes(field))
    types = defs.types(resolved)
    if "string" in types:
        data = _bytes(field)
        if resolved.get("format") == "byte":
            return base64.b64encode(data).decode("ascii")
        return _text(data)
    if "boolean" in types:
        return _varint(field) != 0
    if "integer" in types:
        return to_signed(_varint(field))
    if "number" in types:
        if field.wire_type == WireType.FIXED64 and isinstance(field.value, int):
            return struct.unpack("<d", field.value.to_bytes(8, "little"))[0]
        if field.wire_type == WireType.FIXED32 and isinstance(field.value, int):
            return struct.unpack("<f", field.value.to_bytes(4, "little"))[0]
        raise WireError(f"proto: wrong wireType = {int(field.wire_type)} for field")
    return _SKIP


def _zero(defs: Definitions, schema: Schema | None) -> Any:
    """Go's zero value of a map value whose entry omitted it."""
    if _is_bytes_like(defs, schema):
        return _scalar(defs, schema, Field(2, WireType.BYTES, b""))
    return _scalar(defs, schema, Field(2, WireType.VARINT, 0))


def _is_bytes_like(defs: Definitions, schema: Schema | None) -> bool:
    ref = defs.ref_name(schema)
    if ref in _SPECIAL_REFS or (ref is not None and message_fields(ref) is not None):
        return True
    return "string" in defs.types(defs.resolve(schema))


def _map_entry(defs: Definitions, value_schema: Schema | None, data: bytes) -> tuple[str, Any]:
    fields = _fields_by_number(data)
    key = _text(_bytes(fields[1])) if 1 in fields else ""
    if 2 in fields:
        return key, _scalar(defs, value_schema, fields[2])
    return key, _zero(defs, value_schema)


def _repeated(defs: Definitions, item_schema: Schema | None, field: Field) -> list[Any]:
    """The element(s) one occurrence of a repeated field carries (packed or not)."""
    types = defs.types(defs.resolve(item_schema))
    if field.wire_type == WireType.BYTES and types & {"integer", "boolean"}:
        numbers = unpack_varints(_bytes(field))
        if "boolean" in types:
            return [n != 0 for n in numbers]
        return [to_signed(n) for n in numbers]
    return [_scalar(defs, item_schema, field)]


def _is_zero(value: Any) -> bool:
    return isinstance(value, str | int | float) and not value


def _apply(
    defs: Definitions, out: dict[str, Any], spec: FieldSpec, parent: Schema, field: Field
) -> None:
    """Decode one field of a message into `out`, following its JSON schema."""
    prop = (parent.get("properties") or {}).get(spec.name)
    resolved = defs.resolve(prop)
    if prop is None or resolved is None:
        return
    types = defs.types(resolved)
    if "array" in types and "items" in resolved:
        out.setdefault(spec.name, []).extend(
            v for v in _repeated(defs, resolved["items"], field) if v is not _SKIP
        )
        return
    extra = resolved.get("additionalProperties")
    if "object" in types and "properties" not in resolved and isinstance(extra, dict):
        key, value = _map_entry(defs, extra, _bytes(field))
        if value is not _SKIP:
            out.setdefault(spec.name, {})[key] = value
        return
    value = _scalar(defs, prop, field)
    if value is _SKIP:
        return
    plain = defs.ref_name(prop) is None
    optional = spec.name not in parent.get("required", ())
    if plain and optional and not spec.pointer and _is_zero(value):
        out.pop(spec.name, None)
        return
    if isinstance(value, dict) and isinstance(out.get(spec.name), dict):
        out[spec.name].update(value)
    else:
        out[spec.name] = value


def decode_message(
    defs: Definitions, definition: str, schema: Schema, data: bytes
) -> dict[str, Any]:
    """Decode `data` as the message of `definition`, whose resolved schema is `schema`."""
    table = message_fields(definition) or {}
    out: dict[str, Any] = {}
    for field in iter_fields(data):
        spec = table.get(field.number)
        if spec is None:
            continue
        if spec.inline:
            out.update(decode_message(defs, spec.inline, schema, _bytes(field)))
        else:
            _apply(defs, out, spec, schema, field)
    return out
