"""Health probes: the Up/Down state machine and real probes against loopback servers."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest

from portico.cloud.lb.model import HealthState, ProbeProtocol, ProbeTarget
from portico.cloud.lb.probes import NetnsSockets, Prober, ProbeState, probe_once

U, D = HealthState.UP, HealthState.DOWN


@pytest.mark.parametrize(("results", "states", "changes"), [
    pytest.param([True], [U], [True], id="first-success-is-up"),
    pytest.param([False], [D], [False], id="starts-down"),
    pytest.param([True, False, False, True], [U, U, D, U], [True, False, True, True],
                 id="down-after-two-failures-up-after-one-success"),
    pytest.param([True, False, True, False], [U, U, U, U], [True, False, False, False],
                 id="single-failures-do-not-count"),
])
def test_probe_state(results: list[bool], states: list[HealthState],
                     changes: list[bool]) -> None:
    state = ProbeState(number_of_probes=2)
    seen = [(state.observe(ok), state.state) for ok in results]
    assert seen == list(zip(changes, states, strict=True))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def http_server() -> AsyncIterator[tuple[int, list[str]]]:
    """Answers 200 on /healthz and 503 elsewhere; records the request lines."""
    lines: list[str] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        line = (await reader.readline()).decode().strip()
        lines.append(line)
        status = "200 OK" if line.startswith("GET /healthz ") else "503 Service Unavailable"
        writer.write(f"HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n".encode())
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1], lines
    server.close()
    await server.wait_closed()


def target(protocol: ProbeProtocol, port: int, path: str | None = None) -> ProbeTarget:
    return ProbeTarget("127.0.0.1", protocol, port, path, 1, 2)


async def test_probe_once(http_server: tuple[int, list[str]]) -> None:
    port, lines = http_server
    sockets = NetnsSockets()
    results = [
        await probe_once(sockets, target(ProbeProtocol.TCP, port)),
        await probe_once(sockets, target(ProbeProtocol.TCP, _free_port())),
        await probe_once(sockets, target(ProbeProtocol.HTTP, port, "/healthz")),
        await probe_once(sockets, target(ProbeProtocol.HTTP, port, "/")),
        await probe_once(sockets, target(ProbeProtocol.HTTP, _free_port(), "/healthz")),
    ]
    assert results == [True, False, True, False, False]
    assert [line for line in lines if line] == ["GET /healthz HTTP/1.1", "GET / HTTP/1.1"]


async def test_prober_reports_changes(http_server: tuple[int, list[str]]) -> None:
    port, _ = http_server
    changed = asyncio.Event()
    prober = Prober(NetnsSockets(), changed.set, timeout=0.5)
    up, down = target(ProbeProtocol.HTTP, port, "/healthz"), target(ProbeProtocol.TCP,
                                                                     _free_port())
    prober.set_targets([up, down])
    try:
        await asyncio.wait_for(changed.wait(), 5)
        assert prober.health() == {up: U, down: D}
        prober.set_targets([up])
        assert prober.health() == {up: U}
    finally:
        await prober.stop()


def test_seed_keeps_a_recorded_state() -> None:
    prober = Prober(NetnsSockets(), lambda: None)
    t = target(ProbeProtocol.TCP, 1)
    prober.seed(t, U)
    prober.seed(t, D)  # the first recorded state wins; probes take over from there
    assert prober.health() == {t: U}
