"""`agnhost serve-hostname`: answer every request with the pod's hostname.

Flags as upstream (test/images/agnhost/serve-hostname): `--port` (9376), `--http`
(default true), `--tcp` (write the hostname and close), `--udp` (answer every datagram),
`--close` (HTTP `Connection: close`). `--http` cannot be combined with `--tcp`/`--udp`
(pass `--http=false`). On SIGTERM it logs and keeps serving for 60 s ("Awaiting pod
deletion"), so a terminating pod still answers until the kubelet kills it; then exits 0.
`$PORTICO_SERVE_HOSTNAME_LINGER` overrides the 60 s (tests).
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable
from typing import cast

from aiohttp import web

from portico.images.agnhost._common import go_address, hostname, listen_host, log
from portico.images.agnhost._flags import Flag, FlagError, FlagValue
from portico.images.agnhost._netexec import BACKLOG, udp_socket

FLAGS = (
    Flag("tcp", False, "Serve raw over TCP."),
    Flag("udp", False, "Serve raw over UDP."),
    Flag("http", True, "Serve HTTP."),
    Flag("close", False, "Close connection per each HTTP request."),
    Flag("port", 9376, "Port number."),
)
SHORT = "Serves the hostname"
LINGER_ENV = "PORTICO_SERVE_HOSTNAME_LINGER"
LINGER_SECONDS = 60.0


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, name: str) -> None:
        self.name = name.encode()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # The selector loop's datagram transport does not subclass DatagramTransport.
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        log(f"UDP request from {go_address(addr)}")
        self.transport.sendto(self.name, addr)


async def _start_tcp(name: str, port: int) -> asyncio.Server:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        log(f"TCP request from {go_address(writer.get_extra_info('peername'))}")
        writer.write(name.encode())
        try:
            await writer.drain()
        finally:
            writer.close()

    return await asyncio.start_server(
        answer, host=listen_host(), port=port, reuse_address=True, backlog=BACKLOG
    )


async def _start_http(name: str, port: int, close: bool) -> web.AppRunner:
    async def answer(request: web.Request) -> web.Response:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        log(f"HTTP request from {go_address(peer)}")
        response = web.Response(text=name)
        if close:
            response.force_close()
            response.headers["Connection"] = "close"
        return response

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host=listen_host(), port=port, reuse_address=True, backlog=BACKLOG)
    await site.start()
    return runner


def _resolver(future: asyncio.Future[None]) -> Callable[[], None]:
    def resolve() -> None:
        if not future.done():
            future.set_result(None)

    return resolve


async def serve(values: dict[str, FlagValue]) -> int:
    tcp, udp, http = bool(values["tcp"]), bool(values["udp"]), bool(values["http"])
    port = int(values["port"])
    if http and (tcp or udp):
        raise FlagError("Can't server TCP/UDP mode and HTTP mode at the same time")
    name = hostname()
    loop = asyncio.get_running_loop()
    terminated: asyncio.Future[None] = loop.create_future()
    loop.add_signal_handler(signal.SIGTERM, _resolver(terminated))
    if tcp:
        await _start_tcp(name, port)
    if udp:
        await loop.create_datagram_endpoint(
            lambda: _Udp(name), sock=udp_socket(listen_host(), port)
        )
    if http:
        await _start_http(name, port, bool(values["close"]))
    log(f"Serving on port {port}.")
    await terminated
    log("Shutting down after receiving signal: terminated.")
    log("Awaiting pod deletion.")
    await asyncio.sleep(float(os.environ.get(LINGER_ENV, LINGER_SECONDS)))
    return 0
