"""Probe results with kubelet's output texts (the `Unhealthy` event's message), over loopback."""

from __future__ import annotations

import asyncio
import socket

from portico.agent._prober import ProbeTarget, dial_error, run_probe
from portico.agent._probes import ProbeResult

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def test_dial_errors_read_like_go() -> None:
    assert dial_error("10.244.0.5", 8080, ConnectionRefusedError(111, "Connect call failed")) \
        == "dial tcp 10.244.0.5:8080: connect: connection refused"
    assert dial_error("10.244.0.5", 8080, TimeoutError()) == "dial tcp 10.244.0.5:8080: i/o timeout"


async def test_http_probe_status_and_refused_connection() -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, LOOPBACK, 0)
    port = server.sockets[0].getsockname()[1]
    target = ProbeTarget(LOOPBACK, container_pid=0)
    async with server:
        probe = {"httpGet": {"path": "/healthz", "port": port}}
        assert await run_probe(probe, target, 2.0) == (
            ProbeResult.FAILURE, "HTTP probe failed with statuscode: 503")
    closed = free_port()
    refused = await run_probe({"httpGet": {"path": "/healthz", "port": closed}}, target, 2.0)
    assert refused == (ProbeResult.FAILURE, f'Get "http://{LOOPBACK}:{closed}/healthz": dial '
                                            f"tcp {LOOPBACK}:{closed}: connect: connection refused")
    tcp = await run_probe({"tcpSocket": {"port": closed}}, target, 2.0)
    assert tcp == (ProbeResult.FAILURE,
                   f"dial tcp {LOOPBACK}:{closed}: connect: connection refused")
