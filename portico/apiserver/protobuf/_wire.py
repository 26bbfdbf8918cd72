"""The protobuf wire format: varints, tags and length-delimited fields (read and written).

A message is a sequence of `(tag, payload)` pairs. The tag is a varint holding
`field_number << 3 | wire_type`; the payload is a varint (type 0), 8 bytes
(type 1), a varint length then that many bytes (type 2) or 4 bytes (type 5).
Groups (types 3 and 4) are obsolete and never produced by Kubernetes, so they
are rejected. Errors raise `WireError` with a message in the style of Go's
protobuf runtime; the decoder turns it into a 400 BadRequest.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass


class WireType(int, enum.Enum):
    VARINT = 0
    FIXED64 = 1
    BYTES = 2
    START_GROUP = 3
    END_GROUP = 4
    FIXED32 = 5


class WireError(ValueError):
    """Malformed protobuf input."""


@dataclass(frozen=True)
class Field:
    """One decoded field: its number, wire type and raw value (int or bytes)."""

    number: int
    wire_type: WireType
    value: int | bytes


def encode_varint(value: int) -> bytes:
    """A varint; negative numbers as their 64-bit two's complement (as Go's int64)."""
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if not value:
            out.append(byte)
            return bytes(out)
        out.append(byte | 0x80)


def encode_tag(number: int, wire_type: WireType) -> bytes:
    return encode_varint(number << 3 | wire_type)


def encode_bytes(number: int, data: bytes) -> bytes:
    """A length-delimited field (bytes, string or embedded message)."""
    return encode_tag(number, WireType.BYTES) + encode_varint(len(data)) + data


def read_varint(data: bytes, pos: int) -> tuple[int, int]:
    """Read an unsigned varint at `pos`; return (value, next position)."""
    result = 0
    shift = 0
    while True:
        if pos >= len(data):
            raise WireError("unexpected EOF")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result & 0xFFFFFFFFFFFFFFFF, pos
        shift += 7
        if shift >= 70:
            raise WireError("integer overflow")


def to_signed(value: int) -> int:
    """Reinterpret a 64-bit varint as two's complement (Go int32/int64 fields)."""
    return value - (1 << 64) if value >= 1 << 63 else value


def _read_fixed(data: bytes, pos: int, size: int) -> tuple[int, int]:
    end = pos + size
    if end > len(data):
        raise WireError("unexpected EOF")
    return int.from_bytes(data[pos:end], "little"), end


def iter_fields(data: bytes) -> Iterator[Field]:
    """Yield every field of one message, in wire order."""
    pos = 0
    while pos < len(data):
        tag, pos = read_varint(data, pos)
        number, kind = tag >> 3, tag & 7
        if number <= 0:
            raise WireError(f"illegal tag {number} (wire type {kind})")
        value: int | bytes
        if kind == WireType.VARINT:
            value, pos = read_varint(data, pos)
        elif kind == WireType.FIXED64:
            value, pos = _read_fixed(data, pos, 8)
        elif kind == WireType.FIXED32:
            value, pos = _read_fixed(data, pos, 4)
        elif kind == WireType.BYTES:
            length, pos = read_varint(data, pos)
            if pos + length > len(data):
                raise WireError("unexpected EOF")
            value, pos = data[pos : pos + length], pos + length
        else:
            raise WireError(f"illegal wireType {kind} for field {number}")
        yield Field(number, WireType(kind), value)


def unpack_varints(data: bytes) -> list[int]:
    """The elements of a packed repeated varint field."""
    out: list[int] = []
    pos = 0
    while pos < len(data):
        value, pos = read_varint(data, pos)
        out.append(value)
    return out
