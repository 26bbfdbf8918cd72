"""Taking over an aiohttp server connection after a `101 Switching Protocols` we write.

aiohttp switches its parser only for `Upgrade: websocket`; for SPDY (and for a
proxy that must not parse the WebSocket it relays) the handler answers 101 with
a `StreamResponse` (1xx responses have no body, so aiohttp writes just the status
line and headers), then installs a payload parser of its own with
`request.protocol.set_parser` - the same hook `WebSocketResponse` uses.  From
then on every received byte goes to `RawConnection` (any bytes that arrived
with the request are replayed first), and writes go straight to the transport.
`connection_lost` reaches us as `feed_eof()`.

Back-pressure: received data waits in a queue; above `HIGH_WATER` bytes the
transport stops reading until the consumer catches up.  Writes wait for the
transport's own drain.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable

from aiohttp import web

HIGH_WATER = 4 * 1024 * 1024
Receiver = Callable[[bytes], None]


class _Feeder:
    """The payload-parser interface aiohttp calls: `feed_data` and `feed_eof`."""

    def __init__(self, conn: RawConnection) -> None:
        self.conn = conn

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self.conn._received(bytes(data))
        return False, b""

    def feed_eof(self) -> None:
        self.conn._received(b"")


class RawConnection:
    def __init__(self, request: web.Request, response: web.StreamResponse) -> None:
        self.request = request
        self.response = response
        self._queue: asyncio.Queue[bytes] = asyncio.Queue()
        self._queued = 0
        self._paused = False
        self._receiver: Receiver | None = None
        self.eof = False

    @classmethod
    async def accept(cls, request: web.Request,
                     headers: Iterable[tuple[str, str]]) -> RawConnection:
        """Answer 101 with `headers` and take the connection over."""
        response = web.StreamResponse(status=101, reason="Switching Protocols")
        for name, value in headers:
            response.headers.add(name, value)
        response.force_close()
        await response.prepare(request)
        conn = cls(request, response)
        request.protocol.set_parser(_Feeder(conn))  # type: ignore[arg-type]
        request.protocol.keep_alive(False)
        return conn

    def set_receiver(self, receiver: Receiver) -> None:
        """Push mode: `receiver(data)` for every chunk, b"" at EOF (instead of `read`)."""
        self._receiver = receiver
        while not self._queue.empty():
            receiver(self._queue.get_nowait())
        self._queued = 0
        self._resume()

    def _received(self, data: bytes) -> None:
        if self.eof:
            return
        self.eof = not data
        if self._receiver is not None:
            self._receiver(data)
            return
        self._queue.put_nowait(data)
        self._queued += len(data)
        transport = self.request.transport
        if self._queued > HIGH_WATER and transport is not None and not self._paused:
            self._paused = True
            transport.pause_reading()

    def _resume(self) -> None:
        transport = self.request.transport
        if self._paused and transport is not None:
            self._paused = False
            with contextlib.suppress(Exception):
                transport.resume_reading()

    async def read(self) -> bytes:
        """The next chunk received; b"" at EOF."""
        data = await self._queue.get()
        self._queued -= len(data)
        if self._queued < HIGH_WATER // 2:
            self._resume()
        if not data:
            self._queue.put_nowait(b"")  # EOF stays EOF
        return data

    async def write(self, data: bytes) -> None:
        if not data:
            return
        transport = self.request.transport
        if transport is None or transport.is_closing():
            raise ConnectionResetError("connection closed")
        await self.response.write(data)

    def close(self) -> None:
        transport = self.request.transport
        if transport is not None:
            transport.close()
