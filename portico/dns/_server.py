"""The thin asyncio shell around `answer()`: UDP and TCP listeners, forwarding, a cache, metrics.

Theory of operation: the current `DnsView` is one attribute, replaced whole by
`set_view` (an atomic swap: a query sees the old view or the new one, never a
mix). Each datagram or TCP message goes to `respond()`, which is synchronous:
a cache lookup, else `answer()`. Only a `Forward` decision leaves the fast
path: a task asks the upstreams (`_forward.resolve`, bounded by its deadline)
and sends `complete()`'s bytes when they are done.

The cache is exact, not a TTL cache: `answer()` is a pure function of (query,
view, transport) and copies the query's id into the reply, so the reply to the
same query bytes without the id is the same as long as the view is; the cache
is keyed on that and emptied on every view swap. Forwarded replies are not
cached. TCP follows RFC 7766 framing (2-byte length), answering the messages
of one connection in order and closing it after `TCP_IDLE` seconds of silence.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import time
from collections.abc import Coroutine, Sequence
from typing import Any, cast

from portico.dns._forward import DEFAULT_TIMEOUT, Upstream, resolve
from portico.dns._metrics import Metrics, Plugin, query_type, response_code
from portico.dns._view import DnsView
from portico.dns.answer import Forward, Transport, answer, complete

log = logging.getLogger("portico.dns")

CACHE_SIZE = 65536
TCP_IDLE = 10.0
LENGTH = struct.Struct("!H")
Cached = tuple[bytes, str, str]  # reply without its id, query type, rcode


class DnsServer:
    def __init__(self, view: DnsView, upstreams: Sequence[Upstream] = (),
                 metrics: Metrics | None = None, forward_timeout: float = DEFAULT_TIMEOUT) -> None:
        self._view = view
        self.upstreams = tuple(upstreams)
        self.metrics = metrics
        self.forward_timeout = forward_timeout
        self._cache: dict[tuple[Transport, bytes], Cached] = {}
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def view(self) -> DnsView:
        return self._view

    def set_view(self, view: DnsView) -> None:
        """Swap in a new snapshot; later queries see only it."""
        self._view = view
        self._cache = {}

    def respond(self, data: bytes, transport: Transport) -> tuple[bytes | Forward | None, str, str]:
        """(reply or Forward or None, query type, rcode) for one query, through the cache."""
        key = (transport, data[2:])
        cached = self._cache.get(key)
        if cached is not None:
            return data[:2] + cached[0], cached[1], cached[2]
        result = answer(data, self._view, transport)
        qtype = query_type(data)
        if not isinstance(result, bytes):
            return result, qtype, ""
        rcode = response_code(result)
        if len(self._cache) >= CACHE_SIZE:
            self._cache = {}
        self._cache[key] = (result[2:], qtype, rcode)
        return result, qtype, rcode

    async def forward(self, decision: Forward) -> bytes:
        reply = await resolve(decision.query, self.upstreams, self.forward_timeout)
        return complete(decision, reply)

    def observe(self, transport: Transport, family: str, qtype: str, rcode: str,
                plugin: Plugin, started: float) -> None:
        if self.metrics is not None:
            self.metrics.observe(transport, family, qtype, rcode, plugin,
                                 time.perf_counter() - started)

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def start(self, host: str = "127.0.0.1", port: int = 53) -> int:
        """Listen on UDP and TCP `host:port` (port 0: one free port for both); returns it."""
        loop = asyncio.get_running_loop()
        for _attempt in range(20):
            udp, _ = await loop.create_datagram_endpoint(lambda: _UdpProtocol(self),
                                                         local_addr=(host, port))
            bound = int(udp.get_extra_info("sockname")[1])
            try:
                self._tcp = await asyncio.start_server(self._serve_tcp, host, bound,
                                                       reuse_address=True)
            except OSError:
                udp.close()
                if port:
                    raise
                continue
            self._udp = udp
            return bound
        raise OSError(f"no free port for UDP and TCP on {host}")

    async def stop(self) -> None:
        if self._udp:
            self._udp.close()
        if self._tcp:
            self._tcp.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._tcp.wait_closed(), 1.0)
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        family = _family(writer.get_extra_info("peername"))
        try:
            while True:
                header = await asyncio.wait_for(reader.readexactly(LENGTH.size), TCP_IDLE)
                data = await reader.readexactly(LENGTH.unpack(header)[0])
                started = time.perf_counter()
                result, qtype, rcode = self.respond(data, Transport.TCP)
                plugin = Plugin.KUBERNETES
                if isinstance(result, Forward):
                    result, plugin = await self.forward(result), Plugin.FORWARD
                    rcode = response_code(result)
                if result is None:
                    continue
                writer.write(LENGTH.pack(len(result)) + result)
                await writer.drain()
                self.observe(Transport.TCP, family, qtype, rcode, plugin, started)
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(OSError, ConnectionError):
                await writer.wait_closed()


def _family(peer: object) -> str:
    """CoreDNS's `family` label: 1 for IPv4, 2 for IPv6."""
    return "2" if isinstance(peer, tuple) and len(peer) == 4 else "1"  # AF_INET6: 4-tuples


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, server: DnsServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        started = time.perf_counter()
        try:
            result, qtype, rcode = self.server.respond(data, Transport.UDP)
        except Exception:  # noqa: BLE001 - one bad query must never stop the server
            log.exception("answering a query from %s failed", addr)
            return
        if isinstance(result, Forward):
            self.server.spawn(self._forward(result, addr, qtype, started))
        elif result is not None and self.transport is not None:
            self.transport.sendto(result, addr)
            self.server.observe(Transport.UDP, _family(addr), qtype, rcode, Plugin.KUBERNETES,
                                started)

    async def _forward(self, decision: Forward, addr: tuple[str, int], qtype: str,
                       started: float) -> None:
        reply = await self.server.forward(decision)
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(reply, addr)
        self.server.observe(Transport.UDP, _family(addr), qtype, response_code(reply),
                            Plugin.FORWARD, started)

    def error_received(self, exc: Exception) -> None:
        log.debug("udp error: %s", exc)
