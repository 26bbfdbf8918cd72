"""SPDY/3.1 framing, sans I/O: bytes in, frames out; frames in, bytes out.

Theory of operation (SPDY draft 3.1, the subset kubectl's spdystream speaks):
every frame starts with 8 bytes.  A control frame has the high bit set, then the
15-bit version (3) and a 16-bit type; a data frame has a 31-bit stream id.  Both
continue with 8 bits of flags and a 24-bit length of the payload that follows.

    control: |1| version(15) | type(16) | flags(8) | length(24) | payload
    data:    |0| stream-id(31)          | flags(8) | length(24) | data

SYN_STREAM, SYN_REPLY and HEADERS carry a header block (`count`, then each name
and value as a 32-bit length plus bytes; several values of a name are joined by
NUL) compressed with zlib primed with the SPDY/3 dictionary.  Each direction of a
connection is ONE zlib stream spanning all its header blocks (each block ends
with a sync flush), so a `FrameCodec` belongs to one connection: `feed()` keeps
the inflater and reassembles frames split at arbitrary byte boundaries (the
WebSocket tunnel cuts them anywhere); `encode()` keeps the deflater, so frames
must be written in the order they were encoded.

Pure: no sockets, no asyncio; `zlib` is computation.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from enum import IntEnum

from portico.streaming._dictionary import SPDY_DICTIONARY

VERSION = 3
FLAG_FIN = 0x01
FLAG_UNIDIRECTIONAL = 0x02
MAX_DATA_LENGTH = (1 << 24) - 1
_HEADER = struct.Struct("!II")


class FrameType(IntEnum):
    SYN_STREAM = 1
    SYN_REPLY = 2
    RST_STREAM = 3
    SETTINGS = 4
    PING = 6
    GOAWAY = 7
    HEADERS = 8
    WINDOW_UPDATE = 9


class RstStatus(IntEnum):
    PROTOCOL_ERROR = 1
    INVALID_STREAM = 2
    REFUSED_STREAM = 3
    UNSUPPORTED_VERSION = 4
    CANCEL = 5
    INTERNAL_ERROR = 6
    FLOW_CONTROL_ERROR = 7
    STREAM_IN_USE = 8
    STREAM_ALREADY_CLOSED = 9
    FRAME_TOO_LARGE = 11


class GoAwayStatus(IntEnum):
    OK = 0
    PROTOCOL_ERROR = 1
    INTERNAL_ERROR = 2


class SpdyError(Exception):
    """The peer sent something that is not SPDY/3.1: the connection must be dropped."""


Headers = dict[str, str]


@dataclass(frozen=True)
class SynStream:
    stream_id: int
    headers: Headers = field(default_factory=dict)
    flags: int = 0
    associated_to: int = 0
    priority: int = 0


@dataclass(frozen=True)
class SynReply:
    stream_id: int
    headers: Headers = field(default_factory=dict)
    flags: int = 0


@dataclass(frozen=True)
class HeadersFrame:
    stream_id: int
    headers: Headers = field(default_factory=dict)
    flags: int = 0


@dataclass(frozen=True)
class RstStream:
    stream_id: int
    status: int


@dataclass(frozen=True)
class Settings:
    entries: tuple[tuple[int, int, int], ...] = ()  # (flags, id, value)
    flags: int = 0


@dataclass(frozen=True)
class Ping:
    ping_id: int


@dataclass(frozen=True)
class GoAway:
    last_good_stream_id: int
    status: int = GoAwayStatus.OK


@dataclass(frozen=True)
class WindowUpdate:
    stream_id: int
    delta: int


@dataclass(frozen=True)
class Data:
    stream_id: int
    data: bytes = b""
    flags: int = 0

    @property
    def fin(self) -> bool:
        return bool(self.flags & FLAG_FIN)


Frame = (SynStream | SynReply | HeadersFrame | RstStream | Settings | Ping | GoAway
         | WindowUpdate | Data)


def encode_header_block(headers: Headers) -> bytes:
    """The uncompressed name/value block."""
    out = [struct.pack("!I", len(headers))]
    for name, value in headers.items():
        raw_name, raw_value = name.lower().encode(), value.encode()
        out.append(struct.pack("!I", len(raw_name)) + raw_name)
        out.append(struct.pack("!I", len(raw_value)) + raw_value)
    return b"".join(out)


def decode_header_block(block: bytes) -> Headers:
    """The name/value block, inflated; raises SpdyError when it is cut short."""
    try:
        (count,) = struct.unpack_from("!I", block, 0)
        offset, headers = 4, {}
        for _ in range(count):
            (length,) = struct.unpack_from("!I", block, offset)
            name = block[offset + 4:offset + 4 + length].decode()
            offset += 4 + length
            (length,) = struct.unpack_from("!I", block, offset)
            value = block[offset + 4:offset + 4 + length].decode()
            offset += 4 + length
            headers[name] = value
    except (struct.error, UnicodeDecodeError) as error:
        raise SpdyError(f"malformed header block: {error}") from None
    if offset != len(block):
        raise SpdyError("malformed header block: trailing bytes")
    return headers


def _control(kind: FrameType, flags: int, payload: bytes) -> bytes:
    return _HEADER.pack(0x80000000 | (VERSION << 16) | kind, (flags << 24) | len(payload)) \
        + payload


class FrameCodec:
    """One connection's framing state: the two zlib streams and the input buffer."""

    def __init__(self) -> None:
        self._deflate = zlib.compressobj(zlib.Z_BEST_COMPRESSION, zlib.DEFLATED, 15, 8,
                                         zlib.Z_DEFAULT_STRATEGY, SPDY_DICTIONARY)
        self._inflate = zlib.decompressobj(15, SPDY_DICTIONARY)
        self._buffer = bytearray()

    # -- output -----------------------------------------------------------------------
    def _compress(self, headers: Headers) -> bytes:
        block = encode_header_block(headers)
        return self._deflate.compress(block) + self._deflate.flush(zlib.Z_SYNC_FLUSH)

    def encode(self, frame: Frame) -> bytes:
        """The frame's bytes; header blocks advance this connection's deflater."""
        match frame:
            case Data(stream_id=sid, data=data, flags=flags):
                if len(data) > MAX_DATA_LENGTH:
                    raise ValueError(f"DATA frame of {len(data)} bytes is too large")
                return _HEADER.pack(sid & 0x7FFFFFFF, (flags << 24) | len(data)) + data
            case SynStream(stream_id=sid, headers=h, flags=flags, associated_to=assoc,
                           priority=prio):
                payload = struct.pack("!IIBB", sid, assoc, (prio & 7) << 5, 0)
                return _control(FrameType.SYN_STREAM, flags, payload + self._compress(h))
            case SynReply(stream_id=sid, headers=h, flags=flags):
                return _control(FrameType.SYN_REPLY, flags,
                                struct.pack("!I", sid) + self._compress(h))
            case HeadersFrame(stream_id=sid, headers=h, flags=flags):
                return _control(FrameType.HEADERS, flags,
                                struct.pack("!I", sid) + self._compress(h))
            case RstStream(stream_id=sid, status=status):
                return _control(FrameType.RST_STREAM, 0, struct.pack("!II", sid, status))
            case Settings(entries=entries, flags=flags):
                body = b"".join(struct.pack("!II", (f << 24) | i, v) for f, i, v in entries)
                return _control(FrameType.SETTINGS, flags,
                                struct.pack("!I", len(entries)) + body)
            case Ping(ping_id=ping_id):
                return _control(FrameType.PING, 0, struct.pack("!I", ping_id))
            case GoAway(last_good_stream_id=last, status=status):
                return _control(FrameType.GOAWAY, 0, struct.pack("!II", last, status))
            case WindowUpdate(stream_id=sid, delta=delta):
                return _control(FrameType.WINDOW_UPDATE, 0, struct.pack("!II", sid, delta))
        raise TypeError(f"not a SPDY frame: {frame!r}")

    # -- input ------------------------------------------------------------------------
    def feed(self, data: bytes) -> list[Frame]:
        """Every frame completed by `data` (frames may arrive cut anywhere)."""
        self._buffer += data
        frames: list[Frame] = []
        while len(self._buffer) >= 8:
            first, second = _HEADER.unpack_from(self._buffer, 0)
            length = second & 0xFFFFFF
            if len(self._buffer) < 8 + length:
                break
            payload = bytes(self._buffer[8:8 + length])
            del self._buffer[:8 + length]
            flags = second >> 24
            if first & 0x80000000:
                frame = self._parse_control(first, flags, payload)
                if frame is not None:
                    frames.append(frame)
            else:
                frames.append(Data(first & 0x7FFFFFFF, payload, flags))
        return frames

    def _inflate_block(self, compressed: bytes) -> Headers:
        try:
            block = self._inflate.decompress(compressed)
        except zlib.error as error:
            raise SpdyError(f"cannot inflate header block: {error}") from None
        return decode_header_block(block)

    def _parse_control(self, first: int, flags: int, payload: bytes) -> Frame | None:
        version, kind = (first >> 16) & 0x7FFF, first & 0xFFFF
        if version != VERSION:
            raise SpdyError(f"unsupported SPDY version {version}")
        try:
            return self._control_frame(kind, flags, payload)
        except struct.error:
            raise SpdyError(f"short control frame of type {kind}") from None

    def _control_frame(self, kind: int, flags: int, payload: bytes) -> Frame | None:
        if kind == FrameType.SYN_STREAM:
            sid, assoc, prio, _slot = struct.unpack_from("!IIBB", payload)
            return SynStream(sid & 0x7FFFFFFF, self._inflate_block(payload[10:]), flags,
                             assoc & 0x7FFFFFFF, prio >> 5)
        if kind in (FrameType.SYN_REPLY, FrameType.HEADERS):
            (sid,) = struct.unpack_from("!I", payload)
            headers = self._inflate_block(payload[4:])
            cls = SynReply if kind == FrameType.SYN_REPLY else HeadersFrame
            return cls(sid & 0x7FFFFFFF, headers, flags)
        if kind == FrameType.RST_STREAM:
            sid, status = struct.unpack_from("!II", payload)
            return RstStream(sid & 0x7FFFFFFF, status)
        if kind == FrameType.SETTINGS:
            (count,) = struct.unpack_from("!I", payload)
            entries = []
            for i in range(count):
                key, value = struct.unpack_from("!II", payload, 4 + 8 * i)
                entries.append((key >> 24, key & 0xFFFFFF, value))
            return Settings(tuple(entries), flags)
        if kind == FrameType.PING:
            return Ping(struct.unpack_from("!I", payload)[0])
        if kind == FrameType.GOAWAY:
            last, status = struct.unpack_from("!II", payload)
            return GoAway(last & 0x7FFFFFFF, status)
        if kind == FrameType.WINDOW_UPDATE:
            sid, delta = struct.unpack_from("!II", payload)
            return WindowUpdate(sid & 0x7FFFFFFF, delta & 0x7FFFFFFF)
        return None  # unknown control frames are ignored (SPDY/3 section 2.2.1)
