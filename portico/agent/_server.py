"""The kubelet HTTPS server on :10250: container logs, health, and room for more routes.

`build_app(logs, extra_routes)` returns the aiohttp application; other parts
of the agent (exec, attach, port-forward in `portico/agent/streaming*`) add
their routes by passing `extra_routes` (a sequence of `web.RouteDef`) or by
calling `app.router.add_*` on the returned app before `serve()`.  Every request
needs a client certificate signed by `client_ca` whose CN is one of
`kubelet_client_cns` (the API server's `kube-apiserver-kubelet-client`).

Logs, as kubelet serves them for the API server's `pods/log` proxy:
`GET /containerLogs/{namespace}/{pod}/{container}` with the query of
PodLogOptions: `follow=true`, `previous=true`, `timestamps=true`,
`tailLines=N`, `limitBytes=N`, `sinceSeconds=N`, `sinceTime=<RFC3339>`.
The body is `text/plain`: the log lines without the CRI prefix (with the
RFC3339Nano timestamp first when `timestamps=true`).  With `follow` the
response streams until the container's process exits (or the client leaves).
`GET /healthz` answers `ok`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from portico.agent._config import AgentConfig
from portico.agent._crilog import LogOptions, LogRecord, render_record, select_lines

FOLLOW_POLL_SECONDS = 0.1


@dataclass(frozen=True)
class LogTarget:
    path: Path
    running: Callable[[], bool]  # is this log's process still writing?


class LogLookupError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# (namespace, pod, container, previous) -> LogTarget, or raise LogLookupError
LogLocator = Callable[[str, str, str, bool], LogTarget]


def _int(query: dict[str, str], name: str) -> int | None:
    value = query.get(name)
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError:
        raise web.HTTPBadRequest(text=f"invalid {name}: {value!r}\n") from None


def log_options(query: dict[str, str], now: datetime.datetime) -> LogOptions:
    """PodLogOptions from the query string."""
    def flag(name: str) -> bool:
        return query.get(name, "").lower() in ("true", "1")
    since = None
    seconds = _int(query, "sinceSeconds")
    if seconds is not None:
        since = now - datetime.timedelta(seconds=seconds)
    elif query.get("sinceTime"):
        since = datetime.datetime.fromisoformat(query["sinceTime"].replace("Z", "+00:00"))
    return LogOptions(follow=flag("follow"), previous=flag("previous"),
                      timestamps=flag("timestamps"), tail_lines=_int(query, "tailLines"),
                      limit_bytes=_int(query, "limitBytes"), since=since)


class _Budget:
    def __init__(self, limit: int | None) -> None:
        self.left = limit

    def cut(self, data: bytes) -> bytes:
        if self.left is None:
            return data
        data = data[:self.left]
        self.left -= len(data)
        return data

    def spent(self) -> bool:
        return self.left is not None and self.left <= 0


async def _stream_logs(request: web.Request, target: LogTarget, opts: LogOptions) -> \
        web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/plain"})
    await response.prepare(request)
    # A reader that goes away (the API server stops when `kubectl logs -f` is
    # interrupted) is the normal end of a follow, not an error.
    with contextlib.suppress(ConnectionResetError):
        await _write_logs(response, target, opts)
    return response


async def _write_logs(response: web.StreamResponse, target: LogTarget,
                      opts: LogOptions) -> None:
    budget = _Budget(opts.limit_bytes)
    with open(target.path, "rb") as f:
        data = f.read()
        offset = data.rfind(b"\n") + 1
        records = select_lines(data[:offset].splitlines(), opts)
        await response.write(budget.cut(b"".join(render_record(r, opts.timestamps)
                                                  for r in records)))
        f.seek(offset)
        pending = b""
        while opts.follow and not budget.spent():
            chunk = f.read()
            if not chunk:
                if not target.running():
                    break
                await asyncio.sleep(FOLLOW_POLL_SECONDS)
                continue
            pending += chunk
            cut = pending.rfind(b"\n") + 1
            lines, pending = pending[:cut].splitlines(), pending[cut:]
            follow_opts = LogOptions(since=opts.since)
            new: list[LogRecord] = select_lines(lines, follow_opts)
            await response.write(budget.cut(b"".join(render_record(r, opts.timestamps)
                                                      for r in new)))
    await response.write_eof()


def _require_client_cert(allowed: Sequence[str]) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        cert = request.transport.get_extra_info("peercert") if request.transport else None
        names = [v for rdn in (cert or {}).get("subject", ()) for k, v in rdn
                 if k == "commonName"]
        if not names or names[0] not in allowed:
            raise web.HTTPForbidden(text="Forbidden: client certificate not allowed\n")
        return await handler(request)
    return middleware


def build_app(logs: LogLocator, extra_routes: Sequence[web.RouteDef] = (),
              allowed_cns: Sequence[str] = ("kube-apiserver-kubelet-client",)) -> \
        web.Application:
    """The kubelet server's application; add routes via `extra_routes` or `app.router`."""
    async def container_logs(request: web.Request) -> web.StreamResponse:
        m = request.match_info
        opts = log_options(dict(request.query), datetime.datetime.now(datetime.UTC))
        try:
            target = logs(m["namespace"], m["pod"], m["container"], opts.previous)
        except LogLookupError as error:
            return web.Response(status=error.status, text=error.message + "\n")
        return await _stream_logs(request, target, opts)

    async def healthz(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application(middlewares=[_require_client_cert(allowed_cns)])
    app.router.add_get("/containerLogs/{namespace}/{pod}/{container}", container_logs)
    app.router.add_get("/healthz", healthz)
    app.router.add_routes(list(extra_routes))
    return app


def server_tls(config: AgentConfig) -> ssl.SSLContext:
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(config.serving_cert, config.serving_key)
    tls.load_verify_locations(config.client_ca)
    tls.verify_mode = ssl.CERT_REQUIRED
    return tls


async def serve(app: web.Application, config: AgentConfig) -> web.AppRunner:
    """Listen on node_ip:kubelet_port (and 127.0.0.1 when configured)."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
    await runner.setup()
    tls = server_tls(config)
    hosts = [config.node_ip] + (["127.0.0.1"] if config.listen_loopback else [])
    for host in hosts:
        site = web.TCPSite(runner, host, config.kubelet_port, ssl_context=tls,
                           reuse_address=True)
        await site.start()
    return runner
