"""The kubelet's streaming endpoints on :10250: exec, attach and port-forward.

Routes (as kubelet serves them to the API server, GET for WebSocket, POST for SPDY):
    /exec/{namespace}/{pod}/{container}?command=...&stdin=&stdout=&stderr=&tty=
    /attach/{namespace}/{pod}/{container}?stdin=&stdout=&stderr=&tty=
    /portForward/{namespace}/{pod}[?ports=80,443]

Everything that can fail before the upgrade (unknown pod or container, container
not running, bad query, no acceptable protocol) is an HTTP error with a plain-text
body, which the API server relays and kubectl prints after "unable to upgrade
connection: ".  Then the transport is chosen from the request:
- `Upgrade: websocket`: exec/attach negotiate a `*.channel.k8s.io` subprotocol;
  port-forward takes `SPDY/3.1+portforward.k8s.io` (kubectl's tunnel: the binary
  messages carry a SPDY byte stream) or the legacy channel framing (`?ports=`);
- `Upgrade: SPDY/3.1`: we answer 101 ourselves (`RawConnection`) with the
  negotiated `X-Stream-Protocol-Version` (`v4.channel.k8s.io` for exec/attach, the
  only one kubectl 1.32/1.33 can take back without crashing; `portforward.k8s.io`).
The exec'd command is the container's: argv[0] resolved through the image's
binaries (`portico.images.resolve`), the container's environment and working dir.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web

from portico.agent._attach import AttachableProcess
from portico.agent._exec import CommandProcess, CommandSpec
from portico.agent._portforward import PodRef, SpdyForwarder, forward_websocket, serve_spdy
from portico.agent._remotecommand import run_attach, run_exec
from portico.agent._streamio import CommandIO, SpdyCommandIO, WsCommandIO
from portico.images import ImageError, resolve
from portico.streaming import (
    PORT_FORWARD_PROTOCOL,
    PORT_FORWARD_PROTOCOLS,
    REMOTE_COMMAND_PROTOCOLS,
    SPDY_PROTOCOL,
    TUNNEL_PROTOCOL,
    Channel,
    ChannelProtocol,
    PortForwardError,
    RawConnection,
    SpdySession,
    SpdyStream,
    StreamType,
    exit_code_status,
    negotiate,
    parse_ports,
)

if TYPE_CHECKING:
    from portico.agent._containers import ContainerRunner
    from portico.agent._pod import PodWorker

log = logging.getLogger("portico.agent.streaming")
STREAM_WAIT_SECONDS = 30.0
FIRST_RESIZE_SECONDS = 1.0
SPDY_REMOTE_COMMAND = ChannelProtocol.V4.value
PodFinder = Callable[[str, str], "PodWorker | None"]


@dataclass(frozen=True)
class StreamOptions:
    command: list[str]
    stdin: bool
    stdout: bool
    stderr: bool
    tty: bool

    @classmethod
    def from_query(cls, request: web.Request) -> StreamOptions:
        def flag(name: str) -> bool:
            return request.query.get(name, "").lower() in ("1", "true")
        opts = cls(command=request.query.getall("command", []), stdin=flag("stdin"),
                   stdout=flag("stdout"), stderr=flag("stderr") and not flag("tty"),
                   tty=flag("tty"))
        if not (opts.stdin or opts.stdout or opts.stderr):
            raise web.HTTPBadRequest(text="you must specify at least 1 of stdin, stdout, "
                                          "stderr\n")
        return opts


def _wants(request: web.Request, token: str) -> bool:
    return request.headers.get("Upgrade", "").strip().lower() == token.lower()


def _spdy_protocol(request: web.Request, supported: str) -> str:
    offered = [v.strip() for value in request.headers.getall("X-Stream-Protocol-Version", [])
               for v in value.split(",")]
    if supported not in offered:
        raise web.HTTPForbidden(text=f"unable to upgrade: unable to negotiate protocol: client "
                                     f"supports {offered}, server supports [{supported}]\n")
    return supported


class StreamingServer:
    def __init__(self, find: PodFinder) -> None:
        self.find = find

    def routes(self) -> list[web.RouteDef]:
        exec_path = "/exec/{namespace}/{pod}/{container}"
        attach_path = "/attach/{namespace}/{pod}/{container}"
        pf_path = "/portForward/{namespace}/{pod}"
        return [web.get(exec_path, self.exec), web.post(exec_path, self.exec),
                web.get(attach_path, self.attach), web.post(attach_path, self.attach),
                web.get(pf_path, self.port_forward), web.post(pf_path, self.port_forward)]

    # -- lookups ------------------------------------------------------------------------------
    def _pod(self, request: web.Request) -> PodWorker:
        m = request.match_info
        worker = self.find(m["namespace"], m["pod"])
        if worker is None:
            raise web.HTTPNotFound(text=f"pod does not exist: {m['namespace']}/{m['pod']}\n")
        return worker

    def _container(self, request: web.Request,
                   finished_ok: bool = False) -> tuple[PodWorker, ContainerRunner]:
        """The running container; with `finished_ok`, also one that exited unattached."""
        worker = self._pod(request)
        name = request.match_info["container"]
        runner = next((r for r in worker.containers + worker.init if r.record.name == name),
                      None)
        proc = runner.proc if runner is not None else None
        usable = proc is not None and (proc.running() or (
            finished_ok and isinstance(proc, AttachableProcess) and proc.keeps_stdin
            and not proc.attached_once))
        if runner is None or not usable:
            raise web.HTTPNotFound(text=f'container not found ("{name}")\n')
        return worker, runner

    # -- exec / attach ------------------------------------------------------------------------
    async def _command_io(self, request: web.Request, opts: StreamOptions) -> \
            tuple[CommandIO | None, web.StreamResponse, Callable[[], None]]:
        if _wants(request, "websocket"):
            ws = web.WebSocketResponse(protocols=[p.value for p in REMOTE_COMMAND_PROTOCOLS],
                                       autoping=True, max_msg_size=0)
            offered = request.headers.get("Sec-WebSocket-Protocol", "")
            protocol = negotiate(offered, REMOTE_COMMAND_PROTOCOLS)
            if protocol is None:
                raise web.HTTPBadRequest(text=f"unsupported subprotocols: {offered}\n")
            await ws.prepare(request)
            return WsCommandIO(ws, protocol), ws, lambda: None
        if _wants(request, SPDY_PROTOCOL):
            _spdy_protocol(request, SPDY_REMOTE_COMMAND)
            return await self._spdy_command_io(request, opts)
        raise web.HTTPBadRequest(text="Upgrade request required\n")

    async def _spdy_command_io(self, request: web.Request, opts: StreamOptions) -> \
            tuple[CommandIO | None, web.StreamResponse, Callable[[], None]]:
        """The SPDY connection once the client opened every stream (None: it did not)."""
        expected = {StreamType.ERROR}
        expected |= {StreamType.STDIN} if opts.stdin else set()
        expected |= {StreamType.STDOUT} if opts.stdout else set()
        expected |= {StreamType.STDERR} if opts.stderr else set()
        expected |= {StreamType.RESIZE} if opts.tty else set()
        streams: dict[str, SpdyStream] = {}
        complete = asyncio.Event()

        def on_stream(stream: SpdyStream) -> None:
            streams[stream.stream_type] = stream
            if expected <= set(streams):
                complete.set()
        conn = await RawConnection.accept(request, [
            ("Connection", "Upgrade"), ("Upgrade", SPDY_PROTOCOL),
            ("X-Stream-Protocol-Version", SPDY_REMOTE_COMMAND)])
        session = SpdySession(conn.write, on_stream)
        conn.set_receiver(lambda d: session.feed(d) if d else session.connection_lost())

        def close() -> None:
            conn.close()
            asyncio.ensure_future(session.aclose())
        waiter = asyncio.create_task(complete.wait())
        await asyncio.wait([waiter, asyncio.create_task(session.closed.wait())],
                           timeout=STREAM_WAIT_SECONDS, return_when=asyncio.FIRST_COMPLETED)
        if not complete.is_set():
            waiter.cancel()
            return None, conn.response, close
        return SpdyCommandIO(session, streams), conn.response, close

    async def exec(self, request: web.Request) -> web.StreamResponse:
        worker, runner = self._container(request)
        opts = StreamOptions.from_query(request)
        if not opts.command:
            raise web.HTTPBadRequest(text="you must specify a command\n")
        io, response, close = await self._command_io(request, opts)
        try:
            if io is not None:
                proc = await self._start_command(io, worker, runner, opts)
                if proc is not None:
                    await run_exec(io, proc, opts.stdin, opts.tty)
        finally:
            close()
        return response

    async def _start_command(self, io: CommandIO, worker: PodWorker, runner: ContainerRunner,
                             opts: StreamOptions) -> CommandProcess | None:
        size = None
        if opts.tty:  # kubectl sends the terminal's size first: start with it
            with contextlib.suppress(TimeoutError):
                size = await asyncio.wait_for(io.resize(), FIRST_RESIZE_SECONDS)
        try:
            resolved = resolve(runner.spec.get("image", ""), opts.command, None,
                               worker.ctx.mappings)
            argv, env = resolved.argv, {**resolved.env, **runner.env}
            container = runner.proc
            if container is None or not container.running():
                raise ProcessLookupError("container is not running")
            if "/" not in argv[0] and not shutil.which(argv[0], path=env.get("PATH")):
                raise FileNotFoundError(f'exec: "{argv[0]}": executable file not found in '
                                        "$PATH")
            return await CommandProcess.start(CommandSpec(
                container_pid=container.pid, argv=argv, env=env,
                working_dir=runner.working_dir, stdin=opts.stdin, stderr=opts.stderr,
                tty=opts.tty, size=size))
        except (ImageError, OSError) as error:
            message = getattr(error, "message", None) or str(error)
            channel = Channel.STDOUT if opts.tty else Channel.STDERR
            await io.output(channel, (message + "\r\n" if opts.tty else message + "\n")
                            .encode())
            await io.finish(exit_code_status(127 if isinstance(error, FileNotFoundError)
                                             else 126))
            return None

    async def attach(self, request: web.Request) -> web.StreamResponse:
        # A quick `run -it` command may be done before kubectl attaches: it still gets
        # the output it missed (replayed), then Success.
        _worker, runner = self._container(request, finished_ok=True)
        opts = StreamOptions.from_query(request)
        proc = runner.proc
        if not isinstance(proc, AttachableProcess):
            raise web.HTTPBadRequest(text="container cannot be attached\n")
        if opts.stdin and not runner.spec.get("stdin"):
            opts = StreamOptions(opts.command, False, opts.stdout, opts.stderr, opts.tty)
        io, response, close = await self._command_io(request, opts)
        try:
            if io is not None:
                    await run_attach(io, proc, opts.stdin, opts.stdout, opts.stderr or proc.tty)
        finally:
            close()
        return response

    # -- port-forward -------------------------------------------------------------------------
    async def port_forward(self, request: web.Request) -> web.StreamResponse:
        worker = self._pod(request)
        if not worker.sandbox_ready:
            raise web.HTTPBadRequest(text="pod is not running\n")
        pod = PodRef(worker.name, worker.uid, worker.netns)
        if _wants(request, "websocket"):
            offered = request.headers.get("Sec-WebSocket-Protocol", "")
            if TUNNEL_PROTOCOL in [p.strip() for p in offered.split(",")]:
                return await self._tunnel(request, pod)
            return await self._legacy_websocket(request, pod, offered)
        if _wants(request, SPDY_PROTOCOL):
            _spdy_protocol(request, PORT_FORWARD_PROTOCOL)
            forwarder = SpdyForwarder(pod)
            conn = await RawConnection.accept(request, [
                ("Connection", "Upgrade"), ("Upgrade", SPDY_PROTOCOL),
                ("X-Stream-Protocol-Version", PORT_FORWARD_PROTOCOL)])
            session = SpdySession(conn.write, forwarder.on_stream)
            conn.set_receiver(lambda d: session.feed(d) if d else session.connection_lost())
            try:
                await serve_spdy(session, forwarder)
            finally:
                conn.close()
                await session.aclose()
            return conn.response
        raise web.HTTPBadRequest(text="Upgrade request required\n")

    async def _tunnel(self, request: web.Request, pod: PodRef) -> web.StreamResponse:
        ws = web.WebSocketResponse(protocols=[TUNNEL_PROTOCOL], autoping=True, max_msg_size=0)
        await ws.prepare(request)
        forwarder = SpdyForwarder(pod)
        session = SpdySession(ws.send_bytes, forwarder.on_stream)
        try:
            async for msg in ws:
                if msg.type.name == "BINARY":
                    session.feed(msg.data)
        finally:
            session.connection_lost()
            await forwarder.aclose()
            await session.aclose()
            with contextlib.suppress(Exception):
                await ws.close()
        return ws

    async def _legacy_websocket(self, request: web.Request, pod: PodRef,
                                offered: str) -> web.StreamResponse:
        try:
            ports = parse_ports(request.query.getall("ports", []))
        except PortForwardError as error:
            raise web.HTTPBadRequest(text=f"{error}\n") from None
        protocol = negotiate(offered, PORT_FORWARD_PROTOCOLS)
        if protocol is None:
            raise web.HTTPBadRequest(text=f"unsupported subprotocols: {offered}\n")
        ws = web.WebSocketResponse(protocols=[p.value for p in PORT_FORWARD_PROTOCOLS],
                                   autoping=True, max_msg_size=0)
        await ws.prepare(request)
        await forward_websocket(ws, protocol, ports, pod)
        return ws


def streaming_routes(find: PodFinder) -> list[web.RouteDef]:
    """The exec/attach/portForward routes, for `build_app(extra_routes=...)`."""
    return StreamingServer(find).routes()
