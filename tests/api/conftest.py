"""A real API server in the test's event loop, reached over HTTPS on loopback.

`make test` runs the suite inside a network namespace of its own, so even these
loopback connections never share the machine's namespace.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson
import pytest

from portico.apiserver.resources.services import ServiceConfig
from portico.apiserver.server import ApiServer, ApiServerConfig


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Reply:
    status: int
    body: Any
    headers: Any


class Api:
    def __init__(self, server: ApiServer, session: aiohttp.ClientSession, base: str) -> None:
        self.server = server
        self.session = session
        self.base = base

    async def request(self, method: str, path: str, body: Any = None,
                      content_type: str | None = "application/json",
                      headers: dict[str, str] | None = None, raw: bytes | None = None) -> Reply:
        send_headers = dict(headers or {})
        data = raw
        if body is not None:
            data = orjson.dumps(body)
        if content_type and data is not None:
            send_headers["Content-Type"] = content_type
        skip = () if content_type else ("Content-Type",)
        async with self.session.request(method, self.base + path, data=data,
                                        headers=send_headers, skip_auto_headers=skip) as resp:
            text = await resp.read()
            try:
                parsed = orjson.loads(text) if text else None
            except orjson.JSONDecodeError:
                parsed = text.decode()
            return Reply(resp.status, parsed, resp.headers)

    async def get(self, path: str, **kw: Any) -> Reply:
        return await self.request("GET", path, **kw)

    async def post(self, path: str, body: Any, **kw: Any) -> Reply:
        return await self.request("POST", path, body, **kw)

    async def put(self, path: str, body: Any, **kw: Any) -> Reply:
        return await self.request("PUT", path, body, **kw)

    async def patch(self, path: str, body: Any, content_type: str, **kw: Any) -> Reply:
        return await self.request("PATCH", path, body, content_type=content_type, **kw)

    async def delete(self, path: str, body: Any = None, **kw: Any) -> Reply:
        return await self.request("DELETE", path, body, **kw)


def _client_tls(server: ApiServer) -> ssl.SSLContext:
    pki = server.config.data_dir / "pki"
    ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    ctx.load_cert_chain(pki / "admin.crt", pki / "admin.key")
    return ctx


async def start_api(tmp_path, services: ServiceConfig | None = None,
                    history: int = 50_000) -> tuple[ApiServer, Api]:
    config = ApiServerConfig(name="apitest", data_dir=tmp_path / "data", port=free_port(),
                             services=services or ServiceConfig(), history_revisions=history)
    server = ApiServer(config)
    await server.start()
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=_client_tls(server)))
    return server, Api(server, session, f"https://127.0.0.1:{config.port}")


@pytest.fixture
async def api(tmp_path) -> AsyncIterator[Api]:
    server, client = await start_api(tmp_path)
    try:
        yield client
    finally:
        await client.session.close()
        await server.stop()
