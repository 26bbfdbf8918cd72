"""Remote-command streams over either transport: WebSocket channels or SPDY streams.

exec and attach are written once against `CommandIO`: read stdin (b"" = EOF), read
terminal resizes (None = no more), write stdout/stderr, and `finish(status)`.
- `WsCommandIO` (`v5.channel.k8s.io` and older): one reader task decodes the
  messages (stdin, v5 close of stdin, resize); `finish` writes the Status on the
  error channel and closes with 1000 (kubectl takes the close as EOF everywhere).
  aiohttp answers the client's pings (kubectl pings every 5 s and drops the
  connection after 61 s without a pong).
- `SpdyCommandIO` (`X-Stream-Protocol-Version: v4.channel.k8s.io`): the client opens
  one stream per `streamtype` (error, stdin, stdout, stderr or resize); `finish`
  half-closes stdout/stderr, writes the Status on the error stream with FIN, then
  waits briefly for the client's GOAWAY before the connection is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Protocol

from aiohttp import WSMsgType, web

from portico.streaming import (
    Channel,
    ChannelProtocol,
    ResizeDecoder,
    SpdySession,
    SpdyStream,
    Status,
    StreamType,
    TerminalSize,
    decode,
    encode,
    encode_close,
    error_payload,
)

FINISH_GRACE = 2.0


async def write_process_input(tty_in: asyncio.WriteTransport | None,
                              stdin: asyncio.StreamWriter | None, data: bytes) -> None:
    """Feed a process's input: its terminal when it has one, else its stdin pipe."""
    if tty_in is not None:
        if not tty_in.is_closing():
            tty_in.write(data)
        return
    if stdin is None or stdin.is_closing():
        return
    with contextlib.suppress(ConnectionError):
        stdin.write(data)
        await stdin.drain()


class CommandIO(Protocol):
    closed: asyncio.Event

    async def stdin(self) -> bytes: ...

    async def resize(self) -> TerminalSize | None: ...

    async def output(self, channel: Channel, data: bytes) -> None: ...

    async def finish(self, status: Status) -> None: ...


class WsCommandIO:
    def __init__(self, ws: web.WebSocketResponse, protocol: ChannelProtocol) -> None:
        self.ws = ws
        self.protocol = protocol
        self.closed = asyncio.Event()
        self._stdin: asyncio.Queue[bytes] = asyncio.Queue()
        self._resize: asyncio.Queue[TerminalSize | None] = asyncio.Queue()
        self._reader = asyncio.create_task(self._read_loop())

    async def _read_loop(self) -> None:
        decoder = ResizeDecoder()
        try:
            async for msg in self.ws:
                if msg.type not in (WSMsgType.BINARY, WSMsgType.TEXT):
                    continue
                message = decode(self.protocol, msg.data)
                if message is None:
                    continue
                if message.channel == Channel.STDIN:
                    self._stdin.put_nowait(b"" if message.close else message.data)
                elif message.channel == Channel.RESIZE and not message.close:
                    for size in decoder.feed(message.data):
                        self._resize.put_nowait(size)
        finally:
            self._stdin.put_nowait(b"")
            self._resize.put_nowait(None)
            self.closed.set()

    async def stdin(self) -> bytes:
        data = await self._stdin.get()
        if not data:
            self._stdin.put_nowait(b"")
        return data

    async def resize(self) -> TerminalSize | None:
        size = await self._resize.get()
        if size is None:
            self._resize.put_nowait(None)
        return size

    async def output(self, channel: Channel, data: bytes) -> None:
        if self.ws.closed or not data:
            return
        message = encode(self.protocol, channel, data)
        with contextlib.suppress(ConnectionError, RuntimeError):
            if isinstance(message, str):
                await self.ws.send_str(message)
            else:
                await self.ws.send_bytes(message)

    async def close_output(self, channel: Channel) -> None:
        if self.protocol is ChannelProtocol.V5 and not self.ws.closed:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self.ws.send_bytes(encode_close(channel))

    async def finish(self, status: Status) -> None:
        payload = error_payload(self.protocol.has_status, status)
        if payload:
            await self.output(Channel.ERROR, payload)
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.ws.close()
        self._reader.cancel()


class SpdyCommandIO:
    def __init__(self, session: SpdySession, streams: dict[str, SpdyStream]) -> None:
        self.session = session
        self.streams = streams
        self.closed = session.closed
        self._decoder = ResizeDecoder()
        self._sizes: list[TerminalSize] = []

    async def stdin(self) -> bytes:
        stream = self.streams.get(StreamType.STDIN)
        return await stream.read() if stream is not None else b""

    async def resize(self) -> TerminalSize | None:
        stream = self.streams.get(StreamType.RESIZE)
        while not self._sizes:
            data = await stream.read() if stream is not None else b""
            if not data:
                return None
            self._sizes.extend(self._decoder.feed(data))
        return self._sizes.pop(0)

    async def output(self, channel: Channel, data: bytes) -> None:
        name = StreamType.STDOUT if channel == Channel.STDOUT else StreamType.STDERR
        stream = self.streams.get(name)
        if stream is not None and data:
            await stream.write(data)

    async def close_output(self, channel: Channel) -> None:
        name = StreamType.STDOUT if channel == Channel.STDOUT else StreamType.STDERR
        stream = self.streams.get(name)
        if stream is not None:
            stream.close()

    async def finish(self, status: Status) -> None:
        for name in (StreamType.STDOUT, StreamType.STDERR):
            if name in self.streams:
                self.streams[name].close()
        error = self.streams.get(StreamType.ERROR)
        if error is not None:
            await error.write(error_payload(True, status))
            error.close()
        await self.session.flush()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.session.goaway.wait(), FINISH_GRACE)
