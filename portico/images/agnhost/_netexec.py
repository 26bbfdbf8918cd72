"""`agnhost netexec`: the HTTP and UDP test server Kubernetes' own e2e tests use.

Theory of operation: one asyncio loop serves HTTP/1.1 with keep-alive (aiohttp's
server: fast enough for benchmarks to push many requests through) and UDP, with
upstream's flags and endpoints (test/images/agnhost/netexec/netexec.go):

HTTP (`--http-port`, default 8080; HTTPS with `--tls-cert-file`/`--tls-private-key-file`):
  /               "NOW: <time>" (also every path not listed here, as Go's ServeMux)
  /clientip       the caller's "ip:port"
  /dial           ?host=&port=&request=&protocol=http|udp&tries= -> {"responses": [...],
                  "errors": [...]} from requests this server makes (see `_dial`)
  /echo           ?msg=&code= -> msg, with status code
  /exit           ?code=&timeout=&wait= -> exit with code; timeout 0 exits at once
                  (no response), otherwise after a graceful shutdown of at most timeout
  /healthz        200 while the UDP server runs, else 412 (so with --udp-port=-1, always
                  412, exactly as upstream)
  /hostname, /hostName   the pod's hostname
  /redirect       ?location=&code= -> redirect (default 302)
  /shell          ?cmd= (or shellCommand=) -> {"output": ..., "error": ...} from /bin/sh -c
  /shutdown       exits 0 at once
`--http-override PATH?QUERY` serves that path for every request. `--delay-shutdown N`:
on SIGTERM keep serving N seconds, then exit 0.

UDP (`--udp-port`, default 8081, -1 disables; `--udp-listen-addresses`): the text is
trimmed and lower-cased; "hostname" -> hostname, "echo X" -> X, "clientip" -> ip:port;
anything else gets no reply.

SCTP (`--sctp-port`) is accepted and ignored: Portico pods carry no SCTP. `/upload` is not
implemented. Set `$PORTICO_LISTEN_ADDRESS` to bind one address (tests); by default both
servers listen on all addresses, like agnhost's `:PORT`.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import ssl
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import cast
from urllib.parse import parse_qsl, urlsplit

from aiohttp import web
from multidict import MultiDict, MultiDictProxy, MultiMapping

from portico.images.agnhost import _dial
from portico.images.agnhost._common import (
    go_address,
    go_duration,
    go_now,
    hostname,
    listen_host,
    log,
)
from portico.images.agnhost._flags import Flag, FlagValue

FLAGS = (
    Flag("http-port", 8080, "HTTP Listen Port"),
    Flag("tls-cert-file", "", "File containing an x509 certificate for HTTPS."),
    Flag("tls-private-key-file", "", "File containing an x509 private key for HTTPS."),
    Flag("udp-port", 8081, "UDP Listen Port"),
    Flag("sctp-port", -1, "SCTP Listen Port (ignored by portico)"),
    Flag("http-override", "", "Serve this path & params for every request."),
    Flag("udp-listen-addresses", "", "Comma separated ip addresses the udp servers listen on."),
    Flag("delay-shutdown", 0, "Number of seconds to delay shutdown when receiving SIGTERM."),
)
SHORT = "Creates HTTP(S), UDP, and (optionally) SCTP servers with various endpoints"
BACKLOG = 4096


@dataclass(frozen=True)
class Options:
    http_port: int
    udp_port: int
    sctp_port: int
    cert_file: str
    key_file: str
    http_override: str
    udp_listen_addresses: tuple[str, ...]
    delay_shutdown: int = 0

    @classmethod
    def from_flags(cls, values: dict[str, FlagValue]) -> Options:
        addresses = str(values["udp-listen-addresses"])
        return cls(
            http_port=int(values["http-port"]),
            udp_port=int(values["udp-port"]),
            sctp_port=int(values["sctp-port"]),
            cert_file=str(values["tls-cert-file"]),
            key_file=str(values["tls-private-key-file"]),
            http_override=str(values["http-override"]),
            udp_listen_addresses=tuple(sorted({a for a in addresses.split(",") if a})),
            delay_shutdown=int(values["delay-shutdown"]),
        )


@dataclass
class State:
    """What the handlers share: readiness (UDP up) and the pending shutdown request."""

    exit: asyncio.Future[tuple[int, float]]
    udp_ready: bool = False
    tasks: set[asyncio.Task[None]] = field(default_factory=set)


Form = MultiMapping[str]
Handler = Callable[[web.Request, Form, State], Awaitable[web.StreamResponse]]


def text(body: str, status: int = 200) -> web.Response:
    return web.Response(text=body, status=status)


def go_error(message: str, status: int) -> web.Response:
    """Go's http.Error: the message plus a newline, and nosniff."""
    response = text(message + "\n", status)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def hard_exit(code: int) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code & 0xFF)


async def root(request: web.Request, form: Form, state: State) -> web.StreamResponse:
    log("GET /")
    return text(f"NOW: {go_now()}")


async def clientip(request: web.Request, form: Form, state: State) -> web.StreamResponse:
    log("GET /clientip")
    peer = request.transport.get_extra_info("peername") if request.transport else None
    return text(go_address(peer))


async def echo(request: web.Request, form: Form, state: State) -> web.StreamResponse:
    msg, code = form.get("msg", ""), form.get("code", "")
    log(f"GET /echo?msg={msg}&code={code}")
    if not code:
        return text(msg)
    try:
        status = int(code)
    except ValueError:
        return text(f"argument 'code' must be an integer or empty, got {code!r}\n")
    try:
        return text(msg, status)
    except ValueError as error:  # outside 100..999: Go panics, we answer 500
        return go_error(str(error), 500)


async def exit_(request: web.Request, form: Form, state: State) -> web.StreamResponse:
    wait_text, timeout_text, code_text = (form.get(k, "") for k in ("wait", "timeout", "code"))
    log(f"GET /exit?code={code_text}&timeout={timeout_text}&wait={wait_text}")
    parsed: list[float] = []
    for name, value in (("timeout", timeout_text), ("wait", wait_text)):
        try:
            parsed.append(go_duration(value) if value else 0.0)
        except ValueError:
            return text(
                f"argument '{name}' must be a valid golang duration or empty, got {value!r}\n"
            )
    try:
        code = int(code_text) if code_text else 0
    except ValueError:
        return text(f"argument 'code' must be an integer [0-127] or empty, got {code_text!r}\n")
    timeout, wait = parsed
    log(
        f"Will begin shutdown in {wait}s, allowing {timeout}s for connections to close, "
        f"then will exit with {code}"
    )
    await asyncio.sleep(wait)
    if timeout <= 0:
        hard_exit(code)
    if not state.exit.done():
        state.exit.set_result((code, timeout))
    return text("")


async def healthz(request: web.Request, form: Form, state: State) -> web.StreamResponse:
    log("GET /healthz")
    return web.Response(status=200 if state.udp_ready else 412)


async def hostname_(request: web.Request, form: Form, state: State) -> web.StreamResponse:
    log(f"GET {request.path}")
    return text(hostname())


async def redirect(request: web.Request, form: Form, state: State) -> web.StreamResponse:
    location, code_text = form.get("location", ""), form.get("code", "")
    log(f"{request.method} /redirect?msg={location}&code={code_text}")
    try:
        code = int(code_text) if code_text else 302
    except ValueError:
        return text(f"argument 'code' must be an integer or empty, got {code_text!r}\n")
    response = web.Response(status=code, content_type="text/html")
    response.headers["Location"] = location
    if request.method in ("GET", "HEAD"):
        response.text = f'<a href="{location}">{response.reason}</a>.\n\n'
    return response


async def shutdown(request: web.Request, form: Form, state: State) -> web.StreamResponse:
    log("GET /shutdown")
    hard_exit(0)
    raise AssertionError("unreachable")


async def dial(request: web.Request, form: Form, state: State) -> web.StreamResponse:
    status, body = await _dial.dial(form)
    return go_error(body, status) if status != 200 else text(body)


async def shell(request: web.Request, form: Form, state: State) -> web.StreamResponse:
    command = form.get("shellCommand", "") or form.get("cmd", "")
    log(f"GET /shell?cmd={command}")
    return text(await _dial.shell(command))


ROUTES: dict[str, Handler] = {
    "/clientip": clientip,
    "/dial": dial,
    "/echo": echo,
    "/exit": exit_,
    "/healthz": healthz,
    "/hostname": hostname_,
    "/hostName": hostname_,
    "/redirect": redirect,
    "/shell": shell,
    "/shutdown": shutdown,
}
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


Endpoint = Callable[[web.Request], Awaitable[web.StreamResponse]]


def make_handler(options: Options, state: State) -> Endpoint:
    """The one catch-all route: pick the endpoint by path (or by --http-override)."""
    override = urlsplit(options.http_override) if options.http_override else None

    async def handle(request: web.Request) -> web.StreamResponse:
        form: Form
        if override is not None:
            path = override.path
            form = MultiDictProxy(MultiDict(parse_qsl(override.query, keep_blank_values=True)))
        else:
            path, form = request.path, request.query
            if request.method in ("POST", "PUT", "PATCH") and request.content_type in _FORM_TYPES:
                posted = await request.post()
                merged = MultiDict((k, v) for k, v in posted.items() if isinstance(v, str))
                merged.extend(request.query)
                form = MultiDictProxy(merged)
        return await ROUTES.get(path, root)(request, form, state)

    return handle


def udp_reply(data: bytes, client: str) -> str | None:
    """The UDP server's answer to one datagram from `client` ("ip:port"); None: no answer."""
    received = data.decode("utf-8", "replace").strip().lower()
    if received == "hostname":
        return hostname()
    if received.startswith("echo "):
        return received.split(" ", 1)[1]
    if received == "clientip":
        return client
    if received:
        log(f"Unknown UDP command received from {client}: {received}")
    return None


class _UdpServer(asyncio.DatagramProtocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # The selector loop's datagram transport does not subclass DatagramTransport.
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        reply = udp_reply(data, go_address(addr))
        if reply is not None:
            self.transport.sendto(reply.encode(), addr)

    def error_received(self, exc: Exception) -> None:
        log(f"UDP error: {exc}")


def udp_socket(address: str | None, port: int) -> socket.socket:
    """A bound UDP socket: `address`, or all addresses (dual-stack when IPv6 exists)."""
    if address:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((address, port))
        return sock
    try:
        sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("::", port))
        return sock
    except OSError:
        sock.close()
    return udp_socket("0.0.0.0", port)


async def start_udp(options: Options, state: State) -> list[asyncio.DatagramTransport]:
    addresses = options.udp_listen_addresses or (listen_host() or "",)
    loop = asyncio.get_running_loop()
    transports = []
    for address in addresses:
        sock = udp_socket(address, options.udp_port)
        transport, _ = await loop.create_datagram_endpoint(_UdpServer, sock=sock)
        transports.append(transport)
        log(f"Started UDP server on port {address} {options.udp_port}")
    state.udp_ready = True
    return transports


def ssl_context(options: Options) -> ssl.SSLContext | None:
    if not options.cert_file:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(options.cert_file, options.key_file or None)
    return context


def _delayed_exit(seconds: int) -> None:
    """SIGTERM with --delay-shutdown: keep serving for `seconds`, then exit 0 (so that
    the endpoint is gone from every node's rules before the server is)."""
    log(f"Sleeping {seconds} seconds before terminating...")
    asyncio.get_running_loop().call_later(seconds, hard_exit, 0)


async def serve(options: Options) -> int:
    """Run until /exit asks for a graceful exit; returns the exit code."""
    state = State(exit=asyncio.get_running_loop().create_future())
    if options.sctp_port != -1:
        log("SCTP is not supported by portico's agnhost; ignoring --sctp-port")
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", make_handler(options, state))
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    if options.udp_port != -1:
        await start_udp(options, state)
    site = web.TCPSite(
        runner,
        host=listen_host(),
        port=options.http_port,
        reuse_address=True,
        backlog=BACKLOG,
        ssl_context=ssl_context(options),
    )
    await site.start()
    log(f"Started HTTP server on port {options.http_port}")
    if options.delay_shutdown > 0:
        asyncio.get_running_loop().add_signal_handler(
            signal.SIGTERM, _delayed_exit, options.delay_shutdown)
    code, timeout = await state.exit
    try:
        await asyncio.wait_for(runner.cleanup(), timeout)
        log("Graceful shutdown completed with: <nil>")
    except TimeoutError:
        log("Graceful shutdown completed with: context deadline exceeded")
    return code
