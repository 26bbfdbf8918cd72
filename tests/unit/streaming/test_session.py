"""SpdySession over an in-memory transport: replies, data, half-close, reset, ping, goaway."""

from __future__ import annotations

import asyncio

from portico.streaming import (
    FLAG_FIN,
    Data,
    Frame,
    FrameCodec,
    GoAway,
    Ping,
    RstStatus,
    RstStream,
    Settings,
    SpdySession,
    SpdyStream,
    SynReply,
    SynStream,
    WindowUpdate,
)


class Peer:
    """The client side: encodes what it sends, decodes what the session wrote."""

    def __init__(self) -> None:
        self.out, self.back = FrameCodec(), FrameCodec()
        self.received: list[Frame] = []
        self.streams: list[SpdyStream] = []
        self.session = SpdySession(self.write, self.streams.append)

    async def write(self, data: bytes) -> None:
        self.received += self.back.feed(data)

    def send(self, *frames: Frame) -> None:
        self.session.feed(b"".join(self.out.encode(f) for f in frames))

    async def settle(self) -> list[Frame]:
        await self.session.flush()
        got, self.received = self.received, []
        return got


async def test_streams_are_replied_and_carry_data_both_ways() -> None:
    peer = Peer()
    peer.send(SynStream(1, {"streamtype": "error"}), SynStream(3, {"streamtype": "stdin"}),
              Settings(((0, 7, 1 << 20),)), WindowUpdate(0, 1000))
    assert await peer.settle() == [SynReply(1), SynReply(3)]
    error, stdin = peer.streams
    assert (error.stream_type, stdin.stream_type) == ("error", "stdin")
    peer.send(Data(3, b"abc"), Data(3, b"", FLAG_FIN))
    assert [await stdin.read(), await stdin.read(), await stdin.read()] == [b"abc", b"", b""]
    await error.write(b"x" * 40000)
    error.close()
    assert await peer.settle() == [Data(1, b"x" * 32768), Data(1, b"x" * 7232),
                                   Data(1, b"", FLAG_FIN)]
    await peer.session.aclose()


async def test_ping_goaway_and_reset() -> None:
    peer = Peer()
    peer.send(SynStream(1, {"streamtype": "data"}), Ping(1), Ping(2))
    assert await peer.settle() == [SynReply(1), Ping(1)]  # only client (odd) pings echo
    stream = peer.streams[0]
    peer.send(RstStream(1, RstStatus.CANCEL))
    assert await stream.read() == b""
    await stream.write(b"dropped")
    assert await peer.settle() == []
    peer.send(GoAway(1))
    await asyncio.wait_for(peer.session.goaway.wait(), 1)
    peer.session.connection_lost()
    assert peer.session.closed.is_set()
    await peer.session.aclose()


async def test_garbage_drops_the_connection() -> None:
    peer = Peer()
    peer.session.feed(bytes.fromhex("80020001 00000004 00000001"))
    assert peer.session.closed.is_set()
    await peer.session.aclose()
