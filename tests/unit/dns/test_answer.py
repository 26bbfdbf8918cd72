"""Bytes in, bytes out: `answer()` for every record form the CoreDNS kubernetes plugin serves."""

from __future__ import annotations

import struct

import dns.flags
import dns.message
import dns.rcode
import pytest

from portico.dns import Forward, Transport, answer, build_view, complete, servfail
from tests.unit.dns.dns_fixtures import (
    NAMESPACES,
    SLICES,
    VIEW,
    ask,
    endpoint_slice,
    ep,
    forwarded,
    query,
    service,
    summary,
)

SOA = ("cluster.local. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. "
       "1700000000 7200 1800 86400 5")
AA = "QR AA RD"


def _ok(*answer: str, additional: tuple[str, ...] = ()) -> dict:
    return {"rcode": "NOERROR", "flags": AA, "answer": list(answer), "authority": [],
            "additional": list(additional)}


NXDOMAIN = {"rcode": "NXDOMAIN", "flags": AA, "answer": [], "authority": [SOA], "additional": []}
NODATA = {"rcode": "NOERROR", "flags": AA, "answer": [], "authority": [SOA], "additional": []}

CASES = [
    pytest.param("web.shop.svc.cluster.local", "A",
                 _ok("web.shop.svc.cluster.local. 5 IN A 10.0.0.42"), id="clusterip-A"),
    pytest.param("WEB.Shop.svc.cluster.local", "A",
                 _ok("WEB.Shop.svc.cluster.local. 5 IN A 10.0.0.42"), id="case-kept-in-answer"),
    pytest.param("web.shop.svc.cluster.local", "AAAA", NODATA, id="clusterip-AAAA-nodata"),
    pytest.param("dns6.shop.svc.cluster.local", "AAAA",
                 _ok("dns6.shop.svc.cluster.local. 5 IN AAAA fd00::a"), id="ipv6-clusterip"),
    pytest.param("web.shop.svc.cluster.local", "MX", NODATA, id="other-type-nodata"),
    pytest.param("web.shop.svc.cluster.local", "TXT", NODATA, id="txt-existing-nodata"),
    pytest.param("nope.shop.svc.cluster.local", "A", NXDOMAIN, id="missing-service-nxdomain"),
    pytest.param("nope.shop.svc.cluster.local", "TXT", NXDOMAIN, id="missing-txt-nxdomain"),
    pytest.param("web.nons.svc.cluster.local", "A", NXDOMAIN, id="missing-namespace"),
    pytest.param("shop.svc.cluster.local", "A", NODATA, id="namespace-nodata"),
    pytest.param("nons.svc.cluster.local", "A", NXDOMAIN, id="unknown-namespace-nxdomain"),
    pytest.param("svc.cluster.local", "A", NODATA, id="svc-label-nodata"),
    pytest.param("cluster.local", "A", NODATA, id="apex-A-nodata"),
    pytest.param("foo.cluster.local", "A", NXDOMAIN, id="not-svc-or-pod"),
    pytest.param("a.b.c.web.shop.svc.cluster.local", "A", NXDOMAIN, id="too-long"),
    pytest.param("db.shop.svc.cluster.local", "A",
                 _ok("db.shop.svc.cluster.local. 5 IN A 10.244.0.5",
                     "db.shop.svc.cluster.local. 5 IN A 10.244.1.7"), id="headless-ready-only"),
    pytest.param("db-0.db.shop.svc.cluster.local", "A",
                 _ok("db-0.db.shop.svc.cluster.local. 5 IN A 10.244.0.5"), id="hostname-A"),
    pytest.param("10-244-1-7.db.shop.svc.cluster.local", "A",
                 _ok("10-244-1-7.db.shop.svc.cluster.local. 5 IN A 10.244.1.7"),
                 id="dashed-ip-endpoint"),
    pytest.param("10-244-1-8.db.shop.svc.cluster.local", "A", NXDOMAIN,
                 id="not-ready-endpoint-hidden"),
    pytest.param("10-244-0-9.web.shop.svc.cluster.local", "A",
                 _ok("10-244-0-9.web.shop.svc.cluster.local. 5 IN A 10.244.0.9"),
                 id="endpoint-of-clusterip-service"),
    pytest.param("empty.shop.svc.cluster.local", "A", NXDOMAIN, id="headless-no-endpoints"),
    pytest.param("_pg._tcp.db.shop.svc.cluster.local", "SRV",
                 _ok("_pg._tcp.db.shop.svc.cluster.local. 5 IN SRV 0 50 5432 "
                     "db-0.db.shop.svc.cluster.local.",
                     "_pg._tcp.db.shop.svc.cluster.local. 5 IN SRV 0 50 5432 "
                     "10-244-1-7.db.shop.svc.cluster.local.",
                     additional=("db-0.db.shop.svc.cluster.local. 5 IN A 10.244.0.5",
                                 "10-244-1-7.db.shop.svc.cluster.local. 5 IN A 10.244.1.7")),
                 id="headless-SRV"),
    pytest.param("_http._tcp.web.shop.svc.cluster.local", "SRV",
                 _ok("_http._tcp.web.shop.svc.cluster.local. 5 IN SRV 0 100 80 "
                     "web.shop.svc.cluster.local.",
                     additional=("web.shop.svc.cluster.local. 5 IN A 10.0.0.42",)),
                 id="clusterip-SRV"),
    pytest.param("web.shop.svc.cluster.local", "SRV",
                 _ok("web.shop.svc.cluster.local. 5 IN SRV 0 50 80 web.shop.svc.cluster.local.",
                     "web.shop.svc.cluster.local. 5 IN SRV 0 50 443 web.shop.svc.cluster.local.",
                     additional=("web.shop.svc.cluster.local. 5 IN A 10.0.0.42",)),
                 id="SRV-all-ports"),
    pytest.param("_HTTP._TCP.web.shop.svc.cluster.local", "SRV",
                 _ok("_HTTP._TCP.web.shop.svc.cluster.local. 5 IN SRV 0 100 80 "
                     "web.shop.svc.cluster.local.",
                     additional=("web.shop.svc.cluster.local. 5 IN A 10.0.0.42",)),
                 id="SRV-case-insensitive"),
    pytest.param("_http._udp.web.shop.svc.cluster.local", "SRV", NXDOMAIN,
                 id="SRV-wrong-protocol"),
    pytest.param("ext.shop.svc.cluster.local", "CNAME",
                 _ok("ext.shop.svc.cluster.local. 5 IN CNAME example.com."), id="externalname"),
    pytest.param("ext.shop.svc.cluster.local", "SRV", NODATA, id="externalname-no-SRV"),
    pytest.param("web.shop.svc.cluster.local", "CNAME", NODATA, id="clusterip-no-CNAME"),
    pytest.param("alias.shop.svc.cluster.local", "A",
                 _ok("alias.shop.svc.cluster.local. 5 IN CNAME web.shop.svc.cluster.local.",
                     "web.shop.svc.cluster.local. 5 IN A 10.0.0.42"), id="in-zone-cname-chased"),
    pytest.param("42.0.0.10.in-addr.arpa", "PTR",
                 _ok("42.0.0.10.in-addr.arpa. 5 IN PTR web.shop.svc.cluster.local."),
                 id="PTR-clusterip"),
    pytest.param("5.0.244.10.in-addr.arpa", "PTR",
                 _ok("5.0.244.10.in-addr.arpa. 5 IN PTR db-0.db.shop.svc.cluster.local."),
                 id="PTR-endpoint-hostname"),
    pytest.param("9.0.244.10.in-addr.arpa", "PTR",
                 _ok("9.0.244.10.in-addr.arpa. 5 IN PTR 10-244-0-9.web.shop.svc.cluster.local."),
                 id="PTR-endpoint-dashed"),
    pytest.param("a.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa", "PTR",
                 _ok("a.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa. "
                     "5 IN PTR dns6.shop.svc.cluster.local."), id="PTR-ipv6"),
    pytest.param("10-244-3-4.shop.pod.cluster.local", "A",
                 _ok("10-244-3-4.shop.pod.cluster.local. 5 IN A 10.244.3.4"), id="pod-A"),
    pytest.param("10-244-3.shop.pod.cluster.local", "A", NXDOMAIN, id="pod-bad-ip"),
    pytest.param("10-244-3-4.nons.pod.cluster.local", "A", NXDOMAIN, id="pod-bad-namespace"),
    pytest.param("dns-version.cluster.local", "TXT",
                 _ok('dns-version.cluster.local. 28800 IN TXT "1.1.0"'), id="dns-version"),
    pytest.param("cluster.local", "SOA", _ok(SOA), id="apex-SOA"),
    pytest.param("nope.shop.svc.cluster.local", "SOA", NODATA, id="SOA-below-apex-nodata"),
    pytest.param("cluster.local", "NS",
                 _ok("cluster.local. 5 IN NS ns.dns.cluster.local.",
                     additional=("ns.dns.cluster.local. 5 IN A 10.0.0.10",)), id="apex-NS"),
    pytest.param("ns.dns.cluster.local", "A", _ok("ns.dns.cluster.local. 5 IN A 10.0.0.10"),
                 id="ns-dns-A"),
    pytest.param("cluster.local", "AXFR",
                 {"rcode": "REFUSED", "flags": AA, "answer": [], "authority": [],
                  "additional": []}, id="AXFR-refused"),
]


@pytest.mark.parametrize(("name", "rdtype", "expected"), CASES)
def test_answer(name: str, rdtype: str, expected: dict) -> None:
    assert summary(ask(name, rdtype)) == expected


def test_reply_keeps_id_and_question() -> None:
    reply = ask("web.shop.svc.cluster.local", ident=777)
    assert reply.id == 777
    assert [q.to_text() for q in reply.question] == ["web.shop.svc.cluster.local. IN A"]


def test_answer_is_deterministic() -> None:
    wire = query("db.shop.svc.cluster.local")
    assert {answer(wire, VIEW) for _ in range(20)} == {answer(wire, VIEW)}


def test_publish_not_ready_addresses() -> None:
    services = [service("shop", "db", clusterIP="None", publishNotReadyAddresses=True,
                        ports=[{"name": "pg", "port": 5432}])]
    view = build_view(NAMESPACES, services, SLICES)
    assert summary(ask("db.shop.svc.cluster.local", view=view))["answer"] == [
        "db.shop.svc.cluster.local. 5 IN A 10.244.0.5",
        "db.shop.svc.cluster.local. 5 IN A 10.244.1.7",
        "db.shop.svc.cluster.local. 5 IN A 10.244.1.8"]


def test_zone_and_ttl_are_configurable() -> None:
    view = build_view(NAMESPACES, [service("shop", "web", clusterIP="10.0.0.42",
                                           ports=[{"port": 80}])], [],
                      zone="corp.example.", ttl=30)
    assert summary(ask("web.shop.svc.corp.example", view=view))["answer"] == [
        "web.shop.svc.corp.example. 30 IN A 10.0.0.42"]
    assert isinstance(answer(query("web.shop.svc.cluster.local"), view), Forward)


def test_not_synced_name_error_is_servfail() -> None:
    view = build_view([], [], [], synced=False)
    assert summary(ask("web.shop.svc.cluster.local", view=view))["rcode"] == "SERVFAIL"


# --- size limits: UDP 512 without EDNS, the client's payload with EDNS0, 64 KiB over TCP ---

MANY = build_view(NAMESPACES, [service("shop", "big", clusterIP="None", ports=[{"port": 80}])],
                  [endpoint_slice("shop", "big", [ep(f"10.244.{i // 250}.{i % 250 + 2}")
                                                  for i in range(60)],
                                  ports=[{"port": 80, "protocol": "TCP"}])])


@pytest.mark.parametrize(("transport", "kw", "tc", "count", "payload"), [
    pytest.param(Transport.UDP, {}, True, 0, None, id="udp-512-truncated"),
    pytest.param(Transport.UDP, {"use_edns": 0, "payload": 4096}, False, 60, 1232,
                 id="udp-edns-4096-fits"),
    pytest.param(Transport.UDP, {"use_edns": 0, "payload": 600}, True, 0, 1232,
                 id="udp-edns-600-truncated"),
    pytest.param(Transport.TCP, {}, False, 60, None, id="tcp-fits"),
])
def test_truncation(transport: Transport, kw: dict, tc: bool, count: int,
                    payload: int | None) -> None:
    wire = answer(query("big.shop.svc.cluster.local", **kw), MANY, transport)
    assert isinstance(wire, bytes)
    limit = 65535 if transport == Transport.TCP else max(512, kw.get("payload", 512))
    assert len(wire) <= limit
    reply = dns.message.from_wire(wire)
    assert bool(reply.flags & dns.flags.TC) == tc
    assert sum(len(rrset) for rrset in reply.answer) == count
    assert (reply.payload if reply.edns >= 0 else None) == payload


# --- malformed and refused queries ---

def _header(wire: bytes) -> tuple[int, int, int, int, int, int]:
    return struct.unpack("!HHHHHH", wire[:12])


@pytest.mark.parametrize(("wire", "expected"), [
    pytest.param(b"", None, id="empty-dropped"),
    pytest.param(b"\x12\x34\x01", None, id="short-dropped"),
    pytest.param(b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www", (0x1234, 0x8101, 0,
                 0, 0, 0), id="truncated-question-formerr"),
    pytest.param(b"\x12\x34\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00", (0x1234, 0x8101, 0, 0, 0,
                 0), id="no-question-formerr"),
    pytest.param(b"\x12\x34\x81\x80" + b"\x00" * 8, None, id="response-ignored"),
    pytest.param(b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xff\x00\x00\x01\x00\x01",
                 (0x1234, 0x8101, 0, 0, 0, 0), id="bad-label-formerr"),
])
def test_malformed(wire: bytes, expected: tuple | None) -> None:
    result = answer(wire, VIEW)
    assert (None if result is None else _header(result)) == expected


def test_two_questions_formerr() -> None:
    msg = dns.message.make_query("web.shop.svc.cluster.local", "A")
    msg.id = 99
    msg.question.append(dns.message.make_query("db.shop.svc.cluster.local", "A").question[0])
    assert _header(answer(msg.to_wire(), VIEW)) == (99, 0x8101, 0, 0, 0, 0)


def test_opcode_notify_notimp() -> None:
    msg = dns.message.make_query("cluster.local", "SOA")
    msg.id = 5
    msg.set_opcode(dns.opcode.NOTIFY)
    assert _header(answer(msg.to_wire(), VIEW)) == (5, 0x8000 | 0x2000 | 0x0100 | 4, 0, 0, 0, 0)


def test_chaos_class_refused() -> None:
    reply = dns.message.from_wire(answer(query("version.bind", "TXT", rdclass="CH"), VIEW))
    assert (dns.rcode.to_text(reply.rcode()), dns.flags.to_text(reply.flags)) == ("REFUSED",
                                                                                   "QR RD")


# --- forwarding decisions ---

def test_outside_zone_is_forwarded_verbatim() -> None:
    decision = forwarded("example.com")
    assert decision == Forward(query=query("example.com"), client_query=query("example.com"),
                               transport=Transport.UDP)


def test_unknown_ptr_falls_through() -> None:
    decision = forwarded("1.1.168.192.in-addr.arpa", "PTR")
    assert decision.query == query("1.1.168.192.in-addr.arpa", "PTR") and not decision.cname


def test_no_upstream_reply_is_servfail() -> None:
    reply = dns.message.from_wire(complete(forwarded("example.com"), None))
    assert (reply.id, dns.rcode.to_text(reply.rcode()), reply.answer) == (4242, "SERVFAIL", [])


def test_upstream_reply_passed_through() -> None:
    upstream = dns.message.make_response(dns.message.from_wire(query("example.com")))
    upstream.answer.append(dns.rrset.from_text("example.com.", 60, "IN", "A", "192.0.2.1"))
    assert complete(forwarded("example.com"), upstream.to_wire()) == upstream.to_wire()


def test_externalname_chases_target_upstream() -> None:
    decision = forwarded("ext.shop.svc.cluster.local")
    sent = dns.message.from_wire(decision.query)
    assert (sent.id, sent.question[0].to_text()) == (4242, "example.com. IN A")
    upstream = dns.message.make_response(sent)
    upstream.answer.append(dns.rrset.from_text("example.com.", 60, "IN", "A", "192.0.2.1"))
    final = dns.message.from_wire(complete(decision, upstream.to_wire()))
    assert summary(final) == _ok("ext.shop.svc.cluster.local. 5 IN CNAME example.com.",
                                 "example.com. 60 IN A 192.0.2.1")
    alone = dns.message.from_wire(complete(decision, None))
    assert summary(alone)["answer"] == ["ext.shop.svc.cluster.local. 5 IN CNAME example.com."]


def test_big_upstream_reply_truncated_for_udp_client() -> None:
    decision = forwarded("example.com")
    upstream = dns.message.make_response(dns.message.from_wire(decision.query))
    upstream.answer.append(dns.rrset.from_text("example.com.", 60, "IN", "A",
                                               *[f"192.0.2.{i}" for i in range(1, 60)]))
    reply = dns.message.from_wire(complete(decision, upstream.to_wire()))
    assert (bool(reply.flags & dns.flags.TC), reply.answer) == (True, [])


def test_servfail_reply_shapes() -> None:
    assert _header(servfail(b"\x00\x07\x01\x00" + b"\x00" * 8)) == (7, 0x8102, 0, 0, 0, 0)
    garbage = b"\x00\x07\x01\x00\x00\x01" + b"\x00" * 6 + b"\x03www"
    assert _header(servfail(garbage)) == (7, 0x8101, 0, 0, 0, 0)
