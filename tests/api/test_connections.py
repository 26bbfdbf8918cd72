"""Slow and idle connections to the real API server, with a short header timeout."""

from __future__ import annotations

import asyncio
import ssl
import time

import orjson
import pytest

from portico.apiserver import _bodies
from portico.apiserver.resources.services import ServiceConfig
from portico.apiserver.server import ApiServer, ApiServerConfig
from tests.api.conftest import free_port

HEADER_TIMEOUT = 1.0
IDLE_TIMEOUT = 3.0


@pytest.fixture
async def server(tmp_path):
    config = ApiServerConfig(name="conntest", data_dir=tmp_path / "data", port=free_port(),
                             services=ServiceConfig(), header_timeout=HEADER_TIMEOUT,
                             idle_timeout=IDLE_TIMEOUT)
    api = ApiServer(config)
    await api.start()
    try:
        yield api
    finally:
        await api.stop()


def _tls() -> ssl.SSLContext:
    tls = ssl.create_default_context()
    tls.check_hostname = False
    tls.verify_mode = ssl.CERT_NONE
    return tls


async def _open(server: ApiServer) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", server.config.port, ssl=_tls())


async def _seconds_until_closed(reader: asyncio.StreamReader, limit: float) -> float:
    start = time.monotonic()
    await asyncio.wait_for(reader.read(), limit)
    return time.monotonic() - start


async def test_half_a_header_is_dropped_after_the_header_timeout(server):
    reader, writer = await _open(server)
    writer.write(b"GET /version HTTP/1.1\r\nHost: x\r\n")
    waited = await _seconds_until_closed(reader, HEADER_TIMEOUT + 5)
    assert HEADER_TIMEOUT * 0.8 <= waited <= HEADER_TIMEOUT + 2
    writer.close()


async def test_a_silent_tls_client_is_dropped_after_the_header_timeout(server):
    reader, writer = await _open(server)
    waited = await _seconds_until_closed(reader, HEADER_TIMEOUT + 5)
    assert waited <= HEADER_TIMEOUT + 2
    writer.close()


async def test_a_silent_tcp_client_is_dropped_after_the_handshake_timeout(server):
    reader, writer = await asyncio.open_connection("127.0.0.1", server.config.port)
    waited = await _seconds_until_closed(reader, HEADER_TIMEOUT + 5)
    assert waited <= HEADER_TIMEOUT + 2
    writer.close()


async def test_a_whole_header_is_served_and_the_connection_kept(server):
    reader, writer = await _open(server)
    writer.write(b"GET /version HTTP/1.1\r\nHost: x\r\n")
    await asyncio.sleep(HEADER_TIMEOUT / 2)
    writer.write(b"\r\n")
    status = await asyncio.wait_for(reader.readline(), 5)
    assert status.startswith(b"HTTP/1.1 200")
    await asyncio.sleep(HEADER_TIMEOUT * 1.5)  # past the header timeout: still open (idle)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    await writer.drain()
    rest = await asyncio.wait_for(reader.readuntil(b"ok"), 5)
    assert rest.count(b"HTTP/1.1 200") == 1
    writer.close()


async def test_an_idle_connection_is_dropped_after_the_idle_timeout(server):
    reader, writer = await _open(server)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    await asyncio.wait_for(reader.readuntil(b"ok"), 5)
    writer.write(b"GET /healthz HTTP/1.1\r\n")  # the next header, never finished
    waited = await _seconds_until_closed(reader, IDLE_TIMEOUT + 5)
    assert IDLE_TIMEOUT * 0.8 <= waited <= IDLE_TIMEOUT + 2
    writer.close()


async def test_a_trickled_body_times_out_as_kube_apiserver_answers(server, monkeypatch):
    monkeypatch.setattr(_bodies, "BODY_TIMEOUT", 1.0)
    pki = server.config.data_dir / "pki"
    tls = _tls()
    tls.load_cert_chain(pki / "admin.crt", pki / "admin.key")
    reader, writer = await asyncio.open_connection("127.0.0.1", server.config.port, ssl=tls)
    writer.write(b"POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: x\r\n"
                 b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert head.startswith(b"HTTP/1.1 504")
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    assert orjson.loads(await reader.readexactly(length)) == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": "Timeout: request did not complete within requested timeout - context "
                   "deadline exceeded", "reason": "Timeout", "details": {}, "code": 504}
    writer.close()
