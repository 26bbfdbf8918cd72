"""Forwarding to upstream resolvers: the only network I/O `answer()` asks for.

Theory of operation (a small CoreDNS `forward`): the query is sent as-is over
UDP to each upstream in turn; a reply with TC=1 is asked again over TCP from
the same upstream. The whole exchange has one deadline (2 s by default),
shared among the upstreams still to try, so a dead upstream costs at most its
share and a closed port (ICMP port unreachable -> ConnectionRefusedError)
costs nothing: the caller answers SERVFAIL promptly and never hangs. A reply
counts only if it carries the query's id and QR=1; anything else is ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import Sequence
from typing import NamedTuple

DEFAULT_TIMEOUT = 2.0
TC_BIT = 0x02  # in byte 2 of the header
QR_BIT = 0x80
LENGTH = struct.Struct("!H")


class Upstream(NamedTuple):
    host: str
    port: int = 53

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


class _Exchange(asyncio.DatagramProtocol):
    def __init__(self, query: bytes) -> None:
        self.query = query
        self.reply: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if _is_reply_to(self.query, data) and not self.reply.done():
            self.reply.set_result(data)

    def error_received(self, exc: Exception) -> None:
        if not self.reply.done():
            self.reply.set_exception(exc)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.reply.done():
            self.reply.set_exception(exc or ConnectionError("closed"))


def _is_reply_to(query: bytes, data: bytes) -> bool:
    return len(data) >= 12 and data[:2] == query[:2] and bool(data[2] & QR_BIT)


async def _udp(query: bytes, upstream: Upstream) -> bytes:
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(
        lambda: _Exchange(query), remote_addr=(upstream.host, upstream.port))
    try:
        transport.sendto(query)
        return await protocol.reply
    finally:
        transport.close()


async def _tcp(query: bytes, upstream: Upstream) -> bytes:
    reader, writer = await asyncio.open_connection(upstream.host, upstream.port)
    try:
        writer.write(LENGTH.pack(len(query)) + query)
        await writer.drain()
        while True:
            (size,) = LENGTH.unpack(await reader.readexactly(LENGTH.size))
            data = await reader.readexactly(size)
            if _is_reply_to(query, data):
                return data
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def resolve(query: bytes, upstreams: Sequence[Upstream],
                  timeout: float = DEFAULT_TIMEOUT) -> bytes | None:
    """The first upstream reply to `query`, or None when none came within `timeout`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    for index, upstream in enumerate(upstreams):
        remaining = deadline - loop.time()
        if remaining <= 0:
            break
        budget = remaining / (len(upstreams) - index)
        try:
            reply = await asyncio.wait_for(_udp(query, upstream), budget)
        except (OSError, TimeoutError):
            continue
        if not reply[2] & TC_BIT:
            return reply
        try:
            return await asyncio.wait_for(_tcp(query, upstream), max(deadline - loop.time(), 0.01))
        except (OSError, TimeoutError, asyncio.IncompleteReadError):
            return reply  # the truncated reply is still an answer: the client retries over TCP
    return None
