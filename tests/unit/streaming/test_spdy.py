"""SPDY/3.1 framing, frame by frame: exact bytes out, frames back in, one zlib stream per side."""

from __future__ import annotations

import struct
import zlib

import pytest

from portico.streaming import (
    SPDY_DICTIONARY,
    SPDY_DICTIONARY_ID,
    Data,
    Frame,
    FrameCodec,
    GoAway,
    GoAwayStatus,
    HeadersFrame,
    Ping,
    RstStatus,
    RstStream,
    Settings,
    SpdyError,
    SynReply,
    SynStream,
    WindowUpdate,
)
from portico.streaming._spdy import decode_header_block, encode_header_block


def test_dictionary_is_the_spdy3_one() -> None:
    assert len(SPDY_DICTIONARY) == 1423
    assert SPDY_DICTIONARY_ID == 0xE3C6A7C2
    assert SPDY_DICTIONARY.startswith(b"\x00\x00\x00\x07options\x00\x00\x00\x04head")
    assert SPDY_DICTIONARY.endswith(b"charset=utf-8charset=iso-8859-1,utf-,*,enq=0.")


@pytest.mark.parametrize(("frame", "expected"), [
    pytest.param(Data(5, b"hi"), "00000005 00000002 6869", id="data"),
    pytest.param(Data(3, b"", 0x01), "00000003 01000000", id="data-fin"),
    pytest.param(RstStream(5, RstStatus.CANCEL), "80030003 00000008 00000005 00000005",
                 id="rst-stream"),
    pytest.param(Settings(((0, 4, 100), (1, 7, 65536))),
                 "80030004 00000014 00000002 00000004 00000064 01000007 00010000",
                 id="settings"),
    pytest.param(Ping(1), "80030006 00000004 00000001", id="ping"),
    pytest.param(GoAway(7, GoAwayStatus.OK), "80030007 00000008 00000007 00000000",
                 id="goaway"),
    pytest.param(WindowUpdate(3, 65536), "80030009 00000008 00000003 00010000",
                 id="window-update"),
])
def test_fixed_frames_encode_and_decode(frame: Frame, expected: str) -> None:
    raw = FrameCodec().encode(frame)
    assert raw.hex() == expected.replace(" ", "")
    assert FrameCodec().feed(raw) == [frame]


def test_header_block_layout() -> None:
    block = encode_header_block({"streamtype": "error", "port": "80"})
    assert block == (b"\x00\x00\x00\x02" b"\x00\x00\x00\x0astreamtype" b"\x00\x00\x00\x05error"
                     b"\x00\x00\x00\x04port" b"\x00\x00\x00\x0280")
    assert decode_header_block(block) == {"streamtype": "error", "port": "80"}
    with pytest.raises(SpdyError):
        decode_header_block(block[:-1])


def test_syn_stream_bytes_and_dictionary_compression() -> None:
    raw = FrameCodec().encode(SynStream(1, {"streamtype": "error"}, priority=0))
    first, second = struct.unpack("!II", raw[:8])
    assert first == 0x80030001
    assert second >> 24 == 0 and second & 0xFFFFFF == len(raw) - 8
    assert raw[8:18] == b"\x00\x00\x00\x01" b"\x00\x00\x00\x00" b"\x00\x00"
    zhead = raw[18:24]
    assert zhead[0] == 0x78 and zhead[1] & 0x20  # zlib with a preset dictionary
    assert struct.unpack("!I", zhead[2:6])[0] == SPDY_DICTIONARY_ID
    inflater = zlib.decompressobj(zdict=SPDY_DICTIONARY)
    assert decode_header_block(inflater.decompress(raw[18:])) == {"streamtype": "error"}


def test_header_frames_share_one_zlib_stream_per_direction() -> None:
    client, server = FrameCodec(), FrameCodec()
    frames: list[Frame] = [
        SynStream(1, {"streamtype": "error"}),
        SynStream(3, {"streamtype": "stdin"}, flags=0x01),
        SynReply(2, {"x": "y"}),
        HeadersFrame(3, {"a": "b"}),
    ]
    wire = b"".join(client.encode(f) for f in frames)
    assert server.feed(wire) == frames
    # a later block only inflates with the state the earlier ones left behind
    client.encode(SynStream(5, {"k": "v"}))
    later = client.encode(SynStream(7, {"k": "v"}))
    with pytest.raises(SpdyError, match="inflate"):
        FrameCodec().feed(later)


def test_frames_reassembled_from_any_cut() -> None:
    client = FrameCodec()
    frames: list[Frame] = [SynStream(1, {"streamtype": "data", "port": "80",
                                         "requestid": "0"}),
                           Data(1, b"GET / HTTP/1.1\r\n\r\n"), Ping(1), Data(1, b"", 0x01)]
    wire = b"".join(client.encode(f) for f in frames)
    server, got = FrameCodec(), []
    for i in range(len(wire)):  # one byte at a time, as the WebSocket tunnel may deliver
        got += server.feed(wire[i:i + 1])
    assert got == frames


@pytest.mark.parametrize(("raw", "expected"), [
    pytest.param(bytes.fromhex("8003000a 00000004 00000000"), [], id="unknown-type-ignored"),
    pytest.param(bytes.fromhex("80030006 00000004"), [], id="incomplete-waits"),
])
def test_unknown_and_incomplete(raw: bytes, expected: list[Frame]) -> None:
    assert FrameCodec().feed(raw) == expected


def test_wrong_version_is_an_error() -> None:
    with pytest.raises(SpdyError, match="version 2"):
        FrameCodec().feed(bytes.fromhex("80020006 00000004 00000001"))
