"""Port-forward: TCP connections opened from inside the pod's network namespace.

Dialing (`dial`): a socket belongs to the network namespace its creator thread was
in when it called socket(2), and keeps it for life.  So one dedicated thread (a
single-worker executor that nothing else uses) does `setns(<pod netns>)`,
`socket()`, `setns(<our netns>)` and hands the socket back; the event loop then
connects it (non-blocking) to 127.0.0.1:<port>, which is the pod's loopback - as
kubelet's port-forward reaches the pod via its netns.  If switching back ever
failed the thread would stay in a pod's netns, so that is fatal (os.abort): it
cannot fail for an fd we hold open.

Serving:
- `SpdyForwarder`: the SPDY session (direct or tunneled) hands over streams; the
  `error` and `data` streams of one `requestid` form a pair; once both are there
  the pod port is dialed and bytes are copied both ways until both directions end
  (the client's FIN half-closes our write side).  Dial failures go as text on the
  error stream, and the data stream is closed.
- `forward_websocket`: the legacy framing - every requested port is dialed at once,
  the port prefix is written on both of its channels, and its data channel is
  piped to the connection; the WebSocket closes when every connection has ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import socket
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from aiohttp import WSMsgType, web

from portico.agent._names import NETNS_RUN
from portico.streaming import (
    ChannelProtocol,
    SpdySession,
    SpdyStream,
    StreamHeader,
    StreamType,
    decode,
    encode,
    forward_error,
    port_channels,
    port_prefix,
)

log = logging.getLogger("portico.agent.portforward")
CLONE_NEWNET = 0x40000000
READ_SIZE = 64 * 1024
_libc = ctypes.CDLL(None, use_errno=True)
_netns_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="portico-netns")


def _socket_in_netns(netns: str) -> socket.socket:
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        target = os.open(NETNS_RUN / netns, os.O_RDONLY)
        try:
            if _libc.setns(target, CLONE_NEWNET) != 0:
                errno = ctypes.get_errno()
                raise OSError(errno, f"setns {netns}: {os.strerror(errno)}")
            try:
                return socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            finally:
                if _libc.setns(own, CLONE_NEWNET) != 0:
                    os.abort()  # this thread must never stay in a pod's netns
        finally:
            os.close(target)
    finally:
        os.close(own)


async def dial(netns: str, port: int,
               timeout: float = 5.0) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A TCP connection to `port` on the pod's loopback, from inside its netns."""
    loop = asyncio.get_running_loop()
    sock = await loop.run_in_executor(_netns_thread, _socket_in_netns, netns)
    try:
        sock.setblocking(False)
        await asyncio.wait_for(loop.sock_connect(sock, ("127.0.0.1", port)), timeout)
        return await asyncio.open_connection(sock=sock, limit=2 ** 20)
    except BaseException:
        sock.close()
        raise


@dataclass(frozen=True)
class PodRef:
    name: str
    uid: str
    netns: str


async def _tcp_to_stream(reader: asyncio.StreamReader, stream: SpdyStream) -> None:
    with contextlib.suppress(OSError):
        while data := await reader.read(READ_SIZE):
            await stream.write(data)
    stream.close()


async def _stream_to_tcp(stream: SpdyStream, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        while data := await stream.read():
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()


class SpdyForwarder:
    """Pairs a SPDY session's error/data streams and serves each pair."""

    def __init__(self, pod: PodRef) -> None:
        self.pod = pod
        self._pending: dict[str, dict[str, SpdyStream]] = {}
        self.tasks: set[asyncio.Task[None]] = set()

    def on_stream(self, stream: SpdyStream) -> None:
        request = stream.headers.get(StreamHeader.REQUEST_ID, "")
        pair = self._pending.setdefault(request, {})
        pair[stream.stream_type] = stream
        if StreamType.ERROR in pair and StreamType.DATA in pair:
            del self._pending[request]
            task = asyncio.create_task(self._serve(pair[StreamType.ERROR],
                                                   pair[StreamType.DATA]))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _serve(self, error: SpdyStream, data: SpdyStream) -> None:
        raw = data.headers.get(StreamHeader.PORT, "")
        try:
            port = int(raw)
            reader, writer = await dial(self.pod.netns, port)
        except (OSError, ValueError, TimeoutError) as exc:
            reason = str(exc) or type(exc).__name__
            await error.write(forward_error(int(raw) if raw.isdigit() else 0, self.pod.name,
                                            self.pod.uid, reason))
            error.close()
            data.close()
            return
        try:
            await asyncio.gather(_tcp_to_stream(reader, data), _stream_to_tcp(data, writer))
        finally:
            writer.close()
            error.close()

    async def aclose(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def serve_spdy(session: SpdySession, forwarder: SpdyForwarder) -> None:
    """Until the client closes the connection."""
    try:
        await session.closed.wait()
    finally:
        await forwarder.aclose()


async def _send(ws: web.WebSocketResponse, protocol: ChannelProtocol, channel: int,
                data: bytes) -> None:
    message = encode(protocol, channel, data)
    with contextlib.suppress(ConnectionError, RuntimeError):
        if isinstance(message, str):
            await ws.send_str(message)
        else:
            await ws.send_bytes(message)


async def forward_websocket(ws: web.WebSocketResponse, protocol: ChannelProtocol,
                            ports: list[int], pod: PodRef) -> None:
    """The legacy framing: one connection per requested port for the WebSocket's life."""
    channels = port_channels(ports)
    writers: dict[int, asyncio.StreamWriter] = {}
    pumps: list[asyncio.Task[None]] = []
    for pc in channels:
        await _send(ws, protocol, pc.data, port_prefix(pc.port))
        await _send(ws, protocol, pc.error, port_prefix(pc.port))
        try:
            reader, writer = await dial(pod.netns, pc.port)
        except (OSError, TimeoutError) as exc:
            await _send(ws, protocol, pc.error,
                        forward_error(pc.port, pod.name, pod.uid, str(exc) or "timeout"))
            continue
        writers[pc.data] = writer
        pumps.append(asyncio.create_task(_tcp_to_ws(reader, ws, protocol, pc.data)))
    # As kubelet: the WebSocket ends once every port's connection has ended.
    closer = asyncio.create_task(_close_when_done(ws, pumps))
    try:
        async for msg in ws:
            if msg.type not in (WSMsgType.BINARY, WSMsgType.TEXT):
                continue
            message = decode(protocol, msg.data)
            target = writers.get(message.channel) if message else None
            if message is not None and target is not None and message.data:
                target.write(message.data)
                with contextlib.suppress(OSError):
                    await target.drain()
    finally:
        closer.cancel()
        for pump in pumps:
            pump.cancel()
        for writer in writers.values():
            writer.close()


async def _close_when_done(ws: web.WebSocketResponse, pumps: list[asyncio.Task[None]]) -> None:
    if pumps:
        await asyncio.gather(*pumps, return_exceptions=True)
    with contextlib.suppress(ConnectionError, RuntimeError):
        await ws.close()


async def _tcp_to_ws(reader: asyncio.StreamReader, ws: web.WebSocketResponse,
                     protocol: ChannelProtocol, channel: int) -> None:
    with contextlib.suppress(OSError):
        while data := await reader.read(READ_SIZE):
            await _send(ws, protocol, channel, data)
