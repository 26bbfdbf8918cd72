"""A SPDY/3.1 server connection over any byte transport (a socket or a WebSocket tunnel).

Theory of operation: the owner feeds received bytes to `feed()` (synchronously,
from a protocol callback or a read loop) and gives an async `write(bytes)`.  The
session decodes frames with one `FrameCodec` and:
- SYN_STREAM: creates a `SpdyStream`, queues its SYN_REPLY at once (the client
  blocks until it arrives; kubelet's httpstream does the same), then hands the
  stream to `on_stream`;
- DATA: appends to the stream's inbox; FIN ends the stream's input (`read()`
  returns b"");
- RST_STREAM: ends input and output of that stream;
- PING from the client (odd id): echoed, as spdystream's keep-alive expects;
- GOAWAY: no new streams will come; `goaway` is set;
- SETTINGS, WINDOW_UPDATE, HEADERS: accepted and ignored (no flow control:
  spdystream sends no window updates in practice and kubectl never waits for any).
Every outgoing frame goes through one FIFO queue, encoded and written by one task,
so the zlib header stream and the order of frames (SYN_REPLY before the stream's
DATA) always match what was queued.  `drain()` gives writers back-pressure.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable

from portico.streaming._spdy import (
    FLAG_FIN,
    Data,
    Frame,
    FrameCodec,
    GoAway,
    Ping,
    RstStatus,
    RstStream,
    SpdyError,
    SynReply,
    SynStream,
)

log = logging.getLogger("portico.streaming.spdy")
Writer = Callable[[bytes], Awaitable[None]]
CHUNK = 32 * 1024
HIGH_WATER = 1024 * 1024


def _cost(frame: Frame) -> int:
    return len(frame.data) + 8 if isinstance(frame, Data) else 16


class SpdyStream:
    """One SPDY stream opened by the client: read its data, write ours, half-close."""

    def __init__(self, session: SpdySession, stream_id: int, headers: dict[str, str]) -> None:
        self.session = session
        self.stream_id = stream_id
        self.headers = headers
        self._inbox: asyncio.Queue[bytes] = asyncio.Queue()
        self.remote_closed = False
        self.local_closed = False

    @property
    def stream_type(self) -> str:
        return self.headers.get("streamtype", "")

    async def read(self) -> bytes:
        """The next data received; b"" once the client finished (FIN or RST)."""
        if self.remote_closed and self._inbox.empty():
            return b""
        return await self._inbox.get()

    def _received(self, data: bytes, fin: bool) -> None:
        if self.remote_closed:
            return
        if data:
            self._inbox.put_nowait(data)
        if fin:
            self.remote_closed = True
            self._inbox.put_nowait(b"")

    def _reset(self) -> None:
        self._received(b"", True)
        self.local_closed = True

    async def write(self, data: bytes) -> None:
        for start in range(0, len(data), CHUNK):
            if self.local_closed:
                return
            self.session.send(Data(self.stream_id, data[start:start + CHUNK]))
            await self.session.drain()

    def close(self) -> None:
        """Half-close: FIN, nothing more will be written."""
        if not self.local_closed:
            self.local_closed = True
            self.session.send(Data(self.stream_id, b"", FLAG_FIN))

    def reset(self, status: RstStatus = RstStatus.CANCEL) -> None:
        if not self.local_closed or not self.remote_closed:
            self.session.send(RstStream(self.stream_id, status))
        self._reset()


class SpdySession:
    def __init__(self, write: Writer, on_stream: Callable[[SpdyStream], None]) -> None:
        self._write = write
        self._on_stream = on_stream
        self._codec = FrameCodec()
        self.streams: dict[int, SpdyStream] = {}
        self._out: deque[Frame] = deque()
        self._queued = 0
        self._wake = asyncio.Event()
        self._space = asyncio.Event()
        self._space.set()
        self.closed = asyncio.Event()
        self.goaway = asyncio.Event()
        self._last_stream = 0
        self._writer = asyncio.create_task(self._write_loop())

    # -- input --------------------------------------------------------------------------------
    def feed(self, data: bytes) -> None:
        if self.closed.is_set():
            return
        try:
            frames = self._codec.feed(data)
        except SpdyError as error:
            log.warning("dropping SPDY connection: %s", error)
            self.connection_lost()
            return
        for frame in frames:
            self._dispatch(frame)

    def _dispatch(self, frame: Frame) -> None:
        match frame:
            case SynStream(stream_id=sid, headers=headers, flags=flags):
                stream = SpdyStream(self, sid, headers)
                self.streams[sid] = stream
                self._last_stream = max(self._last_stream, sid)
                self.send(SynReply(sid))
                if flags & FLAG_FIN:
                    stream._received(b"", True)
                self._on_stream(stream)
            case Data(stream_id=sid, data=data, flags=flags):
                target = self.streams.get(sid)
                if target is not None:
                    target._received(data, bool(flags & FLAG_FIN))
            case RstStream(stream_id=sid):
                target = self.streams.get(sid)
                if target is not None:
                    target._reset()
            case Ping(ping_id=ping_id):
                if ping_id % 2 == 1:
                    self.send(Ping(ping_id))
            case GoAway():
                self.goaway.set()

    def connection_lost(self) -> None:
        """The transport is gone: every stream's input ends, nothing more is written."""
        if self.closed.is_set():
            return
        self.closed.set()
        self.goaway.set()
        for stream in self.streams.values():
            stream._reset()
        self._wake.set()
        self._space.set()

    # -- output -------------------------------------------------------------------------------
    def send(self, frame: Frame) -> None:
        if self.closed.is_set():
            return
        self._out.append(frame)
        self._queued += _cost(frame)
        if self._queued > HIGH_WATER:
            self._space.clear()
        self._wake.set()

    async def drain(self) -> None:
        await self._space.wait()

    async def _write_loop(self) -> None:
        while not self.closed.is_set():
            await self._wake.wait()
            self._wake.clear()
            chunks, cost = [], 0
            while self._out:
                frame = self._out.popleft()
                cost += _cost(frame)
                chunks.append(self._codec.encode(frame))
            if chunks:
                try:
                    await self._write(b"".join(chunks))
                except (ConnectionError, RuntimeError) as error:
                    log.debug("SPDY write failed: %r", error)
                    self.connection_lost()
            self._queued -= cost
            if self._queued <= HIGH_WATER:
                self._space.set()

    async def flush(self, timeout: float = 5.0) -> None:
        """Wait until every queued frame was written (or the connection is gone)."""
        async def empty() -> None:
            while (self._out or self._queued) and not self.closed.is_set():
                await asyncio.sleep(0.01)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(empty(), timeout)

    def send_goaway(self) -> None:
        self.send(GoAway(self._last_stream))

    async def aclose(self) -> None:
        self.connection_lost()
        self._writer.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._writer
