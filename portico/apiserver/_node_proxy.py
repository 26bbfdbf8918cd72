"""Subresources served by the node agent: kube-apiserver proxies them to the kubelet.

`pods/log` becomes `GET https://<node InternalIP>:10250/containerLogs/<ns>/<pod>/<container>`
with the API server's kubelet-client certificate; the answer streams back as is.

`pods/exec`, `pods/attach` and `pods/portforward` (GET with `Upgrade: websocket`,
POST with `Upgrade: SPDY/3.1`) are proxied the way kube-apiserver's
UpgradeAwareHandler does it, without parsing the stream protocols: the upgrade
request goes to `/exec|attach/<ns>/<pod>/<container>?<query>` or
`/portForward/<ns>/<pod>?<query>` on the kubelet over TLS (our client certificate,
the client's upgrade headers, minus its credentials); a non-101 answer is relayed
as is (kubectl falls back from WebSocket to SPDY on it, or prints its body); on 101
the client gets the kubelet's 101 headers (`RawConnection`), then bytes are copied
both ways until either side closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from portico.apiserver import errors
from portico.apiserver.registry import Registry
from portico.apiserver.resources._base import Object
from portico.model.vocabulary import NodeAddressType
from portico.streaming import RawConnection

log = logging.getLogger("portico.apiserver")

KUBELET_PORT = 10250
_STREAM_PATHS = {"exec": "exec", "attach": "attach", "portforward": "portForward"}
# Not forwarded upstream: our own credentials and framing replace the client's.
_DROPPED_REQUEST_HEADERS = frozenset({"host", "authorization", "content-length",
                                      "transfer-encoding", "proxy-connection", "keep-alive",
                                      "impersonate-user", "impersonate-group"})
_DROPPED_RESPONSE_HEADERS = frozenset({"date", "server", "content-length",
                                       "transfer-encoding"})
_HEAD_LIMIT = 64 * 1024
_DIAL_TIMEOUT = 5.0
_PIPE_CHUNK = 64 * 1024
_LOG_PARAMS = ("follow", "tailLines", "previous", "timestamps", "limitBytes", "sinceSeconds",
               "sinceTime")


@dataclass(frozen=True)
class KubeletClientConfig:
    ca_cert: Path
    client_cert: Path
    client_key: Path
    port: int = KUBELET_PORT


def _container_names(pod: Object) -> list[str]:
    spec = pod.get("spec", {})
    return [c["name"] for c in spec.get("containers", [])]


def pick_container(pod: Object, requested: str) -> str:
    """The container a log/exec request means, with kube-apiserver's errors."""
    name = pod["metadata"]["name"]
    names = _container_names(pod)
    init = [c["name"] for c in pod.get("spec", {}).get("initContainers", []) or []]
    if requested:
        if requested not in names and requested not in init:
            raise errors.bad_request(
                f"container {requested} is not valid for pod {name}")
        return requested
    if len(names) == 1:
        return names[0]
    raise errors.bad_request(
        f"a container name must be specified for pod {name}, choose one of: "
        f"[{' '.join(names)}]" + (f" or one of the init containers: [{' '.join(init)}]"
                                  if init else ""))


def node_address(registry: Registry, pod: Object) -> str:
    node_name = pod.get("spec", {}).get("nodeName")
    if not node_name:
        raise errors.bad_request(
            f"pod {pod['metadata']['name']} does not have a host assigned")
    nodes = registry.find("", "v1", "nodes")
    assert nodes is not None
    node = registry.get(nodes, "", node_name)
    for address in node.get("status", {}).get("addresses", []) or []:
        if address.get("type") == NodeAddressType.INTERNAL_IP:
            return str(address["address"])
    raise errors.StatusError(
        503, "ServiceUnavailable", f"no preferred addresses found; known addresses: {[]}")


class NodeProxy:
    def __init__(self, registry: Registry, config: KubeletClientConfig | None) -> None:
        self.registry = registry
        self.config = config
        self._tls: ssl.SSLContext | None = None

    def tls(self) -> ssl.SSLContext:
        if self.config is None:
            raise errors.StatusError(503, "ServiceUnavailable", "no kubelet client configured")
        if self._tls is None:
            ctx = ssl.create_default_context(cafile=str(self.config.ca_cert))
            ctx.load_cert_chain(self.config.client_cert, self.config.client_key)
            self._tls = ctx
        return self._tls

    def kubelet_url(self, pod: Object, path: str) -> str:
        host = node_address(self.registry, pod)
        port = self.config.port if self.config else KUBELET_PORT
        return f"https://{host}:{port}{path}"

    async def logs(self, request: web.Request, pod: Object) -> web.StreamResponse:
        container = pick_container(pod, request.query.get("container", ""))
        meta = pod["metadata"]
        params: dict[str, Any] = {k: request.query[k] for k in _LOG_PARAMS if k in request.query}
        url = self.kubelet_url(pod, f"/containerLogs/{meta['namespace']}/{meta['name']}/"
                                    f"{container}")
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=5)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            try:
                upstream = await session.get(url, params=params, ssl=self.tls())
            except aiohttp.ClientError as exc:
                raise errors.StatusError(
                    500, "InternalError",
                    f"Get \"{url}\": {exc}") from None
            async with upstream:
                if upstream.status != 200:
                    text = (await upstream.text()).strip()
                    raise errors.bad_request(text or f"kubelet answered {upstream.status}")
                response = web.StreamResponse(headers={"Content-Type": "text/plain"})
                response.enable_chunked_encoding()
                await response.prepare(request)
                await _relay_log(upstream, response)
                return response

    def _stream_path(self, request: web.Request, pod: Object, subresource: str) -> str:
        meta = pod["metadata"]
        path = f"/{_STREAM_PATHS[subresource]}/{meta['namespace']}/{meta['name']}"
        if subresource != "portforward":
            path += "/" + pick_container(pod, request.query.get("container", ""))
        query = request.rel_url.raw_query_string
        return path + (f"?{query}" if query else "")

    async def stream(self, request: web.Request, pod: Object,
                     subresource: str) -> web.StreamResponse:
        """exec, attach and portforward: an upgraded connection carried to the kubelet."""
        if "upgrade" not in request.headers.get("Connection", "").lower():
            raise errors.bad_request("Upgrade request required")
        path = self._stream_path(request, pod, subresource)
        host = node_address(self.registry, pod)
        port = self.config.port if self.config else KUBELET_PORT
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(
                host, port, ssl=self.tls(), server_hostname=host, limit=_HEAD_LIMIT * 16),
                _DIAL_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            raise errors.StatusError(500, "InternalError", f"error dialing backend: "
                                                           f"{exc or 'timeout'}") from None
        try:
            writer.write(_upgrade_request(request, path, f"{host}:{port}"))
            status, reason, headers = await _read_head(reader)
            if status != 101:
                return await _relay_error(reader, status, reason, headers)
            conn = await RawConnection.accept(request, [
                (k, v) for k, v in headers if k.lower() not in _DROPPED_RESPONSE_HEADERS])
            await _pipe(conn, reader, writer)
            return conn.response
        finally:
            writer.close()


async def _relay_log(upstream: aiohttp.ClientResponse, response: web.StreamResponse) -> None:
    """Copy the kubelet's log stream to the client until either side ends it.

    A client that stops reading (`kubectl logs -f` interrupted) is the normal end of
    a follow, as for kube-apiserver's proxy: the stream stops, nothing is logged as
    an error, and leaving closes the kubelet connection."""
    try:
        async for chunk in upstream.content.iter_any():
            await response.write(chunk)
        await response.write_eof()
    except ConnectionResetError:
        log.debug("pods/log: the client went away")


def _upgrade_request(request: web.Request, path: str, host: str) -> bytes:
    lines = [f"{request.method} {path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{k}: {v}" for k, v in request.headers.items()
              if k.lower() not in _DROPPED_REQUEST_HEADERS]
    if request.method == "POST":
        lines.append("Content-Length: 0")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _read_head(reader: asyncio.StreamReader) -> tuple[int, str, list[tuple[str, str]]]:
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30.0)
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError,
            OSError) as exc:
        raise errors.StatusError(500, "InternalError",
                                 f"error reading the kubelet's answer: {exc!r}") from None
    first, *rest = head.decode("latin-1").split("\r\n")
    parts = first.split(" ", 2)
    headers = [(k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in rest)
               if k.strip()]
    return int(parts[1]), parts[2] if len(parts) > 2 else "", headers


async def _relay_error(reader: asyncio.StreamReader, status: int, reason: str,
                       headers: list[tuple[str, str]]) -> web.Response:
    found = {k.lower(): v for k, v in headers}
    length = int(found.get("content-length", "0") or 0)
    body = b""
    with contextlib.suppress(asyncio.IncompleteReadError, TimeoutError, OSError):
        body = await asyncio.wait_for(reader.readexactly(min(length, _HEAD_LIMIT)), 5.0)
    return web.Response(status=status, reason=reason or None, body=body,
                        content_type=found.get("content-type", "text/plain").split(";")[0])


async def _pipe(conn: RawConnection, reader: asyncio.StreamReader,
                writer: asyncio.StreamWriter) -> None:
    async def upstream() -> None:
        while data := await conn.read():
            writer.write(data)
            await writer.drain()

    async def downstream() -> None:
        while data := await reader.read(_PIPE_CHUNK):
            await conn.write(data)

    tasks = [asyncio.create_task(upstream()), asyncio.create_task(downstream())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        conn.close()
