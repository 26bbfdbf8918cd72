"""The API server's listeners, with kube-apiserver's connection limits and a per-client cap.

kube-apiserver's `http.Server` sets `ReadHeaderTimeout: 32s` (which also bounds
the TLS handshake) and `IdleTimeout: 90s`. Here:

- the TLS handshake must finish within `HEADER_TIMEOUT` (asyncio's
  `ssl_handshake_timeout`);
- the first request header must be complete within `HEADER_TIMEOUT` of the
  handshake: `_Guard` watches the bytes for the header's blank line and closes
  the connection when the timer fires first;
- later on, aiohttp's keep-alive timer (`IDLE_TIMEOUT`, passed to the runner by
  `server.py`) closes a connection that has no complete request to serve, idle
  or sending a header too slowly;
- one client address holds at most `MAX_CONNECTIONS_PER_CLIENT` connections. At
  the cap, a new connection makes room by closing that client's oldest
  connection still waiting for its first header; only if there is none is the
  new one closed. A burst of slow connections from one address thus never shuts
  out a client that sends whole requests (kubectl), even from the same address.
  (kube-apiserver has no such cap: Go's connections are cheap; Python's are not.)

Accept errors (`EMFILE` when descriptors run out, failures to set up a TLS
transport) are reported by asyncio's exception handler, with a traceback, once per
failed connection; `quiet_accept_errors` logs them at
most once per `ACCEPT_LOG_INTERVAL` with the count of those left out, and
`raise_open_files_limit` lifts the soft descriptor limit to the hard one.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from aiohttp import web

log = logging.getLogger("portico.apiserver")

HEADER_TIMEOUT = 32.0
IDLE_TIMEOUT = 90.0
MAX_CONNECTIONS_PER_CLIENT = 256
ACCEPT_LOG_INTERVAL = 10.0
_HEADER_END = b"\r\n\r\n"
# what asyncio reports, with a traceback, for each connection it fails to accept or set up
_ACCEPT_ERRORS = ("socket.accept() out of system resource",
                  "Error on transport creation for incoming connection")


class ClientSlots:
    """The open connections of every client address, oldest first."""

    def __init__(self, limit: int = MAX_CONNECTIONS_PER_CLIENT) -> None:
        self.limit = limit
        self.by_client: dict[str, OrderedDict[_Guard, None]] = {}

    def admit(self, client: str, guard: _Guard) -> bool:
        """Take a slot for `guard`, closing the client's oldest header-less connection
        if the client is at the limit; False when the new connection must go instead."""
        held = self.by_client.setdefault(client, OrderedDict())
        if len(held) >= self.limit:
            waiting = next((g for g in held if not g.header_seen), None)
            if waiting is None:
                return False
            waiting.close()
            held.pop(waiting, None)
        held[guard] = None
        return True

    def release(self, client: str, guard: _Guard) -> None:
        held = self.by_client.get(client)
        if held is not None:
            held.pop(guard, None)
            if not held:
                del self.by_client[client]


class _Guard(asyncio.Protocol):
    """Wraps aiohttp's protocol for one connection: the slot and the first header's deadline."""

    def __init__(self, inner: asyncio.Protocol, slots: ClientSlots, header_timeout: float) -> None:
        self.inner = inner
        self.slots = slots
        self.header_timeout = header_timeout
        self.header_seen = False
        self.transport: asyncio.Transport | None = None
        self.client = ""
        self.timer: asyncio.TimerHandle | None = None
        self.tail = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.client = str(peer[0]) if peer else ""
        if not self.slots.admit(self.client, self):
            self.transport = None
            transport.abort()
            return
        self.timer = asyncio.get_running_loop().call_later(self.header_timeout, self.close)
        self.inner.connection_made(transport)

    def close(self) -> None:
        """Drop the connection now (a late or evicted first header)."""
        if self.transport is not None and not self.header_seen:
            self.transport.abort()

    def data_received(self, data: bytes) -> None:
        if not self.header_seen:
            seen = self.tail + data
            if _HEADER_END in seen:
                self.header_seen = True
                self._stop_timer()
            else:
                self.tail = seen[-3:]
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received()

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()

    def _stop_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def connection_lost(self, exc: Exception | None) -> None:
        if self.transport is None:
            return  # refused at the cap: aiohttp never saw it
        self._stop_timer()
        self.slots.release(self.client, self)
        self.transport = None
        self.inner.connection_lost(exc)


class GuardedSite(web.BaseSite):
    """A TLS listener whose connections go through `_Guard`."""

    def __init__(self, runner: web.BaseRunner, host: str, port: int, ssl_context: Any,
                 slots: ClientSlots, header_timeout: float = HEADER_TIMEOUT) -> None:
        super().__init__(runner, ssl_context=ssl_context)
        self.host = host
        self.port = port
        self.slots = slots
        self.header_timeout = header_timeout

    @property
    def name(self) -> str:
        return f"https://{self.host}:{self.port}"

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None

        def guarded() -> asyncio.Protocol:
            return _Guard(server(), self.slots, self.header_timeout)

        self._server = await asyncio.get_running_loop().create_server(
            guarded, self.host, self.port, ssl=self._ssl_context, reuse_address=True,
            ssl_handshake_timeout=self.header_timeout)


ExceptionHandler = Callable[[asyncio.AbstractEventLoop, dict[str, Any]], object]


class _AcceptLogLimiter:
    """A loop exception handler that thins out accept errors and passes on the rest."""

    def __init__(self, previous: ExceptionHandler | None, interval: float) -> None:
        self.previous = previous
        self.interval = interval
        self.last = -interval
        self.left_out = 0

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if not str(context.get("message", "")).startswith(_ACCEPT_ERRORS):
            if self.previous is not None:
                self.previous(loop, context)
            else:
                loop.default_exception_handler(context)
            return
        now = time.monotonic()
        if now - self.last < self.interval:
            self.left_out += 1
            return
        log.error("accepting a connection failed: %s (%d more such errors not logged)",
                  context.get("exception"), self.left_out)
        self.last, self.left_out = now, 0


def quiet_accept_errors(loop: asyncio.AbstractEventLoop,
                        interval: float = ACCEPT_LOG_INTERVAL) -> Callable[[], None]:
    """Rate-limit the loop's accept-error reports; returns the undo."""
    previous = loop.get_exception_handler()
    loop.set_exception_handler(_AcceptLogLimiter(previous, interval))
    return lambda: loop.set_exception_handler(previous)


def raise_open_files_limit() -> None:
    """Let this process use as many descriptors as its hard limit allows."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError) as error:
            log.warning("cannot raise the open files limit to %s: %s", target, error)
