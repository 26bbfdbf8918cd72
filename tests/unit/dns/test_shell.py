"""The asyncio shell over loopback: UDP and TCP, forwarding, SERVFAIL without upstreams, metrics."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator

import dns.asyncquery
import dns.flags
import dns.message
import dns.rcode
import dns.rrset
import pytest

from portico.dns import DnsServer, Metrics, Upstream, build_view
from portico.dns._metrics import query_type
from tests.unit.dns.dns_fixtures import NAMESPACES, SERVICES, SLICES, VIEW, service

LOCAL = "127.0.0.1"


def closed_port() -> int:
    """A loopback UDP port nobody listens on (queries get ICMP port unreachable)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((LOCAL, 0))
        return int(s.getsockname()[1])


class FakeUpstream(asyncio.DatagramProtocol):
    """Answers every A query with 192.0.2.1; over UDP, `big.example.` comes back with TC=1."""

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.seen: list[str] = []

    @staticmethod
    def reply(wire: bytes, udp: bool) -> bytes:
        request = dns.message.from_wire(wire)
        response = dns.message.make_response(request)
        response.flags |= dns.flags.RA
        name = request.question[0].name
        if udp and name.to_text() == "big.example.":
            response.flags |= dns.flags.TC
        else:
            response.answer.append(dns.rrset.from_text(name, 30, "IN", "A", "192.0.2.1"))
        return response.to_wire()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.seen.append(dns.message.from_wire(data).question[0].name.to_text())
        assert self.transport is not None
        self.transport.sendto(self.reply(data, udp=True), addr)

    async def serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        size = int.from_bytes(await reader.readexactly(2), "big")
        reply = self.reply(await reader.readexactly(size), udp=False)
        writer.write(len(reply).to_bytes(2, "big") + reply)
        await writer.drain()
        writer.close()


@pytest.fixture
async def upstream() -> AsyncIterator[tuple[FakeUpstream, int]]:
    loop = asyncio.get_running_loop()
    fake = FakeUpstream()
    transport, _ = await loop.create_datagram_endpoint(lambda: fake, local_addr=(LOCAL, 0))
    port = transport.get_extra_info("sockname")[1]
    tcp = await asyncio.start_server(fake.serve_tcp, LOCAL, port)
    yield fake, port
    transport.close()
    tcp.close()
    await tcp.wait_closed()


async def _server(upstreams: list[Upstream], timeout: float = 2.0) -> tuple[DnsServer, int]:
    server = DnsServer(VIEW, upstreams, Metrics(server="dns://127.0.0.1"), timeout)
    return server, await server.start(LOCAL, 0)


def _query(name: str, rdtype: str = "A") -> dns.message.Message:
    return dns.message.make_query(name, rdtype)


async def test_udp_and_tcp_answers() -> None:
    server, port = await _server([])
    try:
        udp = await dns.asyncquery.udp(_query("web.shop.svc.cluster.local"), LOCAL, port=port,
                                       timeout=2)
        tcp = await dns.asyncquery.tcp(_query("db.shop.svc.cluster.local"), LOCAL, port=port,
                                       timeout=2)
    finally:
        await server.stop()
    assert [r.to_text() for r in udp.answer] == ["web.shop.svc.cluster.local. 5 IN A 10.0.0.42"]
    assert [a.address for a in tcp.answer[0]] == ["10.244.0.5", "10.244.1.7"]


async def test_view_swap_is_seen_by_the_next_query() -> None:
    server, port = await _server([])
    try:
        first = await dns.asyncquery.udp(_query("new.shop.svc.cluster.local"), LOCAL, port=port,
                                         timeout=2)
        server.set_view(build_view(NAMESPACES, [*SERVICES, service(
            "shop", "new", clusterIP="10.0.0.77", ports=[{"port": 80}])], SLICES))
        second = await dns.asyncquery.udp(_query("new.shop.svc.cluster.local"), LOCAL, port=port,
                                          timeout=2)
    finally:
        await server.stop()
    assert (first.rcode(), second.rcode()) == (dns.rcode.NXDOMAIN, dns.rcode.NOERROR)
    assert second.answer[0].to_text() == "new.shop.svc.cluster.local. 5 IN A 10.0.0.77"


async def test_truncated_udp_then_full_over_tcp() -> None:
    many = [f"10.244.0.{i}" for i in range(2, 62)]
    view = build_view(NAMESPACES, [service("shop", "big", clusterIP="None", ports=[{"port": 1}])],
                      [{"metadata": {"namespace": "shop", "name": "big-1",
                                     "labels": {"kubernetes.io/service-name": "big"}},
                        "addressType": "IPv4", "ports": [{"port": 1}],
                        "endpoints": [{"addresses": [ip]} for ip in many]}])
    server = DnsServer(view)
    port = await server.start(LOCAL, 0)
    try:
        query = _query("big.shop.svc.cluster.local")
        udp = await dns.asyncquery.udp(query, LOCAL, port=port, timeout=2)
        tcp = await dns.asyncquery.tcp(query, LOCAL, port=port, timeout=2)
    finally:
        await server.stop()
    assert (bool(udp.flags & dns.flags.TC), udp.answer) == (True, [])
    assert len(tcp.answer[0]) == 60


async def test_servfail_fast_when_upstream_port_is_closed() -> None:
    server, port = await _server([Upstream(LOCAL, closed_port())])
    try:
        started = time.monotonic()
        udp = await dns.asyncquery.udp(_query("example.com"), LOCAL, port=port, timeout=3)
        tcp = await dns.asyncquery.tcp(_query("example.org"), LOCAL, port=port, timeout=3)
        elapsed = time.monotonic() - started
    finally:
        await server.stop()
    assert (dns.rcode.to_text(udp.rcode()), dns.rcode.to_text(tcp.rcode())) == ("SERVFAIL",
                                                                                 "SERVFAIL")
    assert elapsed < 1.0


async def test_servfail_within_deadline_without_any_upstream() -> None:
    server, port = await _server([])
    try:
        reply = await dns.asyncquery.udp(_query("example.com"), LOCAL, port=port, timeout=3)
    finally:
        await server.stop()
    assert dns.rcode.to_text(reply.rcode()) == "SERVFAIL"


async def test_forward_udp_then_tcp_on_tc(upstream: tuple[FakeUpstream, int]) -> None:
    fake, upstream_port = upstream
    server, port = await _server([Upstream(LOCAL, closed_port()), Upstream(LOCAL, upstream_port)])
    try:
        small = await dns.asyncquery.udp(_query("small.example"), LOCAL, port=port, timeout=3)
        big = await dns.asyncquery.tcp(_query("big.example"), LOCAL, port=port, timeout=3)
        chased = await dns.asyncquery.udp(_query("ext.shop.svc.cluster.local"), LOCAL, port=port,
                                          timeout=3)
    finally:
        await server.stop()
    assert [r.to_text() for r in small.answer] == ["small.example. 30 IN A 192.0.2.1"]
    assert [r.to_text() for r in big.answer] == ["big.example. 30 IN A 192.0.2.1"]
    assert [r.to_text() for r in chased.answer] == [
        "ext.shop.svc.cluster.local. 5 IN CNAME example.com.", "example.com. 30 IN A 192.0.2.1"]
    assert fake.seen == ["small.example.", "big.example.", "example.com."]


async def test_metrics_count_requests_and_responses() -> None:
    server, port = await _server([])
    try:
        for name in ("web.shop.svc.cluster.local", "web.shop.svc.cluster.local", "x.shop.svc."
                     "cluster.local"):
            await dns.asyncquery.udp(_query(name), LOCAL, port=port, timeout=2)
        await dns.asyncquery.udp(_query("example.com", "AAAA"), LOCAL, port=port, timeout=3)
    finally:
        await server.stop()
    assert server.metrics is not None
    text = server.metrics.render()
    for line in (
        'coredns_dns_requests_total{server="dns://127.0.0.1",zone=".",proto="udp",family="1",'
        'type="A"} 3',
        'coredns_dns_requests_total{server="dns://127.0.0.1",zone=".",proto="udp",family="1",'
        'type="AAAA"} 1',
        'coredns_dns_responses_total{server="dns://127.0.0.1",zone=".",rcode="NOERROR",'
        'plugin="kubernetes"} 2',
        'coredns_dns_responses_total{server="dns://127.0.0.1",zone=".",rcode="NXDOMAIN",'
        'plugin="kubernetes"} 1',
        'coredns_dns_responses_total{server="dns://127.0.0.1",zone=".",rcode="SERVFAIL",'
        'plugin="forward"} 1',
        'coredns_dns_request_duration_seconds_count{server="dns://127.0.0.1",zone=".",type="A"} 3',
    ):
        assert line in text.splitlines()
    assert text.startswith("# HELP coredns_build_info")


@pytest.mark.parametrize(("wire", "expected"), [
    pytest.param(_query("a.b", "SRV").to_wire(), "SRV", id="srv"),
    pytest.param(_query("a.b", "PTR").to_wire(), "PTR", id="ptr"),
    pytest.param(b"\x00" * 12 + b"\x05ab", "other", id="cut"),
])
def test_query_type(wire: bytes, expected: str) -> None:
    assert query_type(wire) == expected
