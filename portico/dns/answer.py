"""The DNS responder, sans I/O: `answer(query bytes, view) -> response bytes | Forward | None`.

Theory of operation (CoreDNS's kubernetes plugin handler.go, with the AKS
Corefile `kubernetes cluster.local in-addr.arpa ip6.arpa { pods insecure;
fallthrough in-addr.arpa ip6.arpa }` followed by `forward . <upstreams>`):
1. Parse. Fewer than 12 bytes, or a message that is itself a response: drop
   (None). Anything dnspython cannot parse: FORMERR with the query's id (a
   header-only reply). Opcode other than QUERY: NOTIMP. Not exactly one
   question: FORMERR. Class other than IN: REFUSED.
2. Names in the cluster zone are answered here, authoritatively (AA, no RA,
   like CoreDNS): A/AAAA, SRV, CNAME, TXT `dns-version`, SOA/NS at the apex,
   `ns.dns.<zone>`; a name that does not exist gets NXDOMAIN and one that
   exists without the asked type NOERROR/NODATA, both with the zone's SOA in
   the authority section. `_records` decides which names exist.
3. PTR in `in-addr.arpa`/`ip6.arpa` is answered when the address is a
   ClusterIP or a published endpoint; everything else there falls through.
4. Everything else is a `Forward`: the caller sends `Forward.query` to the
   upstream resolvers and hands the reply (or None if there was none) to
   `complete()`, which returns the bytes for the client (SERVFAIL on None).
   An A/AAAA query for an ExternalName whose target is outside the zone
   also forwards: the query for the target, with the CNAME to put in front.
5. Size: UDP replies fit the client's EDNS0 payload (512 without EDNS0);
   a reply that does not fit is sent empty with TC=1 so the client retries
   over TCP (65535).
The function is pure: same bytes and view in, same bytes out.
"""

from __future__ import annotations

import contextlib
import functools
import math
import struct
from dataclasses import dataclass
from enum import StrEnum

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.reversename
import dns.rrset
from dns.rdtypes.ANY.CNAME import CNAME
from dns.rdtypes.ANY.NS import NS
from dns.rdtypes.ANY.PTR import PTR
from dns.rdtypes.ANY.SOA import SOA
from dns.rdtypes.ANY.TXT import TXT
from dns.rdtypes.IN.A import A
from dns.rdtypes.IN.AAAA import AAAA
from dns.rdtypes.IN.SRV import SRV

from portico.dns._records import DEFAULT_NS_LABELS, DNS_VERSION_LABEL, Hit, records, reverse
from portico.dns._view import NO_PORT, DnsView

IN = dns.rdataclass.IN
RT = dns.rdatatype.RdataType
HEADER = struct.Struct("!HHHHHH")
UDP_MIN_SIZE = 512
TCP_MAX_SIZE = 65535
OUR_PAYLOAD = 1232
DNS_SCHEMA_VERSION = "1.1.0"
DNS_VERSION_TTL = 28800
SOA_REFRESH, SOA_RETRY, SOA_EXPIRE = 7200, 1800, 86400
MAX_CNAME_CHAIN = 8
REVERSE_ZONES = (dns.name.from_text("in-addr.arpa."), dns.name.from_text("ip6.arpa."))


class Transport(StrEnum):
    UDP = "udp"
    TCP = "tcp"


@dataclass(frozen=True)
class Forward:
    """Ask the upstream resolvers `query`; give their reply to `complete()`."""

    query: bytes
    client_query: bytes
    transport: Transport
    cname: tuple[dns.rrset.RRset, ...] = ()  # ExternalName chain to put before the reply


Result = bytes | Forward | None


@functools.lru_cache(maxsize=16)
def _zone_name(zone: str) -> dns.name.Name:
    return dns.name.from_text(zone)


def answer(query: bytes, view: DnsView, transport: Transport = Transport.UDP) -> Result:
    """The response to one query (None: drop it), or the decision to forward it."""
    request = _parse(query)
    if not isinstance(request, dns.message.Message):
        return request
    qname = request.question[0].name
    zone = _zone_name(view.zone)
    if qname.is_subdomain(zone):
        labels = tuple(label.decode("latin-1").lower() for label in qname.relativize(zone).labels)
        return _zone_answer(request, labels, view, transport)
    if any(qname.is_subdomain(z) for z in REVERSE_ZONES):
        return _reverse_answer(request, query, view, transport)
    return Forward(query=query, client_query=query, transport=transport)


def _parse(query: bytes) -> dns.message.Message | bytes | None:
    if len(query) < HEADER.size or query[2] & 0x80:
        return None
    try:
        request = dns.message.from_wire(query)
    except Exception:  # noqa: BLE001 - any malformed input is FORMERR, never a crash
        return _header_reply(query, dns.rcode.FORMERR)
    if request.opcode() != dns.opcode.QUERY:
        return _header_reply(query, dns.rcode.NOTIMP)
    if len(request.question) != 1:
        return _header_reply(query, dns.rcode.FORMERR)
    if request.question[0].rdclass != IN:
        return _render(_response(request, dns.rcode.REFUSED, authoritative=False),
                       _size(request, Transport.UDP))
    return request


def _header_reply(query: bytes, rcode: dns.rcode.Rcode) -> bytes:
    """A header-only reply: the query's id, opcode and RD, QR set, all counts 0."""
    ident, flags = struct.unpack_from("!HH", query)
    flags = (flags & (0x7800 | dns.flags.RD)) | dns.flags.QR | int(rcode)
    return HEADER.pack(ident, flags, 0, 0, 0, 0)


def servfail(query: bytes) -> bytes:
    """SERVFAIL for a query (when no upstream answered); FORMERR if it cannot be read."""
    try:
        request = dns.message.from_wire(query)
    except Exception:  # noqa: BLE001 - unreadable: answer from the header alone
        return _header_reply(query, dns.rcode.FORMERR)
    return _render(_response(request, dns.rcode.SERVFAIL, authoritative=False),
                   _size(request, Transport.UDP))


def _response(request: dns.message.Message, rcode: dns.rcode.Rcode = dns.rcode.NOERROR,
              authoritative: bool = True) -> dns.message.Message:
    response = dns.message.make_response(request, our_payload=OUR_PAYLOAD)
    response.set_rcode(rcode)
    if authoritative:
        response.flags |= dns.flags.AA
    return response


def _size(request: dns.message.Message, transport: Transport) -> int:
    if transport == Transport.TCP:
        return TCP_MAX_SIZE
    if request.edns >= 0:
        return max(UDP_MIN_SIZE, min(request.payload, TCP_MAX_SIZE))
    return UDP_MIN_SIZE


def _render(response: dns.message.Message, size: int) -> bytes:
    try:
        return response.to_wire(max_size=size, want_shuffle=False)
    except dns.exception.TooBig:
        response.answer.clear()
        response.authority.clear()
        response.additional.clear()
        response.flags |= dns.flags.TC
        return response.to_wire(max_size=size, want_shuffle=False)


def _rrset(name: dns.name.Name, rdtype: RT, ttl: int, *rdatas: object) -> dns.rrset.RRset:
    rrset = dns.rrset.RRset(name, IN, rdtype)
    for rdata in rdatas:
        rrset.add(rdata, ttl)  # type: ignore[arg-type]
    return rrset


def _soa(view: DnsView) -> dns.rrset.RRset:
    zone = _zone_name(view.zone)
    rdata = SOA(IN, RT.SOA, dns.name.Name(("ns", "dns")).concatenate(zone),
                dns.name.Name(("hostmaster",)).concatenate(zone), view.serial % 2**32,
                SOA_REFRESH, SOA_RETRY, SOA_EXPIRE, view.ttl)
    return _rrset(zone, RT.SOA, min(view.ttl, 300), rdata)


def _address(name: dns.name.Name, ip: str, ttl: int) -> dns.rrset.RRset:
    if ":" in ip:
        return _rrset(name, RT.AAAA, ttl, AAAA(IN, RT.AAAA, ip))
    return _rrset(name, RT.A, ttl, A(IN, RT.A, ip))


def _family(rdtype: RT) -> type:
    return AAAA if rdtype == RT.AAAA else A


def _addresses(qname: dns.name.Name, rdtype: RT, ips: list[str], ttl: int
               ) -> list[dns.rrset.RRset]:
    want_v6 = rdtype == RT.AAAA
    rdatas = [_family(rdtype)(IN, rdtype, ip) for ip in ips if (":" in ip) == want_v6]
    return [_rrset(qname, rdtype, ttl, *rdatas)] if rdatas else []


def _zone_answer(request: dns.message.Message, labels: tuple[str, ...], view: DnsView,
                 transport: Transport) -> Result:
    question = request.question[0]
    qname, qtype = question.name, RT(question.rdtype)
    response = _response(request)
    size = _size(request, transport)
    if qtype in (RT.AXFR, RT.IXFR):
        return _render(_response(request, dns.rcode.REFUSED), size)
    special = _special(qname, qtype, labels, view, response)
    if special:
        return _render(response, size)
    hits = records(labels, view)
    if qtype == RT.TXT and not hits:
        hits = None  # CoreDNS: TXT on a name without records is NXDOMAIN
    if qtype == RT.SOA and hits is None:
        hits = ()  # CoreDNS: SOA below the apex is always NODATA
    if hits is None:
        return _negative(response, view, size)
    if qtype in (RT.A, RT.AAAA):
        chased = _chase(request, qname, qtype, hits, view, transport, response)
        if chased is not None:
            return chased
    elif qtype == RT.SRV:
        _srv(response, qname, hits, view.ttl)
    elif qtype == RT.CNAME and hits and hits[0].is_hostname:
        target = dns.name.from_text(hits[0].host)
        response.answer.append(_rrset(qname, RT.CNAME, view.ttl, CNAME(IN, RT.CNAME, target)))
    if not response.answer:
        response.authority.append(_soa(view))
    return _render(response, size)


def _special(qname: dns.name.Name, qtype: RT, labels: tuple[str, ...], view: DnsView,
             response: dns.message.Message) -> bool:
    """dns-version TXT, the apex SOA/NS, and ns.dns.<zone>; True when it answered."""
    zone = _zone_name(view.zone)
    if qtype == RT.TXT and labels == (DNS_VERSION_LABEL,):
        txt = TXT(IN, RT.TXT, [DNS_SCHEMA_VERSION.encode()])
        response.answer.append(_rrset(qname, RT.TXT, DNS_VERSION_TTL, txt))
    elif qtype == RT.SOA and not labels:
        response.answer.append(_soa(view))
    elif qtype == RT.NS and not labels:
        ns_name = dns.name.Name(("ns", "dns")).concatenate(zone)
        response.answer.append(_rrset(qname, RT.NS, view.ttl, NS(IN, RT.NS, ns_name)))
        response.additional.extend(_address(ns_name, ip, view.ttl) for ip in view.nameservers)
    elif qtype in (RT.A, RT.AAAA) and labels == DEFAULT_NS_LABELS:
        response.answer.extend(_addresses(qname, qtype, list(view.nameservers), view.ttl))
        if not response.answer:
            response.authority.append(_soa(view))
    else:
        return False
    return True


def _negative(response: dns.message.Message, view: DnsView, size: int) -> bytes:
    """NXDOMAIN with the SOA; SERVFAIL before the first sync, as CoreDNS does."""
    response.set_rcode(dns.rcode.NXDOMAIN if view.synced else dns.rcode.SERVFAIL)
    response.authority.append(_soa(view))
    return _render(response, size)


def _chase(request: dns.message.Message, qname: dns.name.Name, qtype: RT, hits: tuple[Hit, ...],
           view: DnsView, transport: Transport, response: dns.message.Message) -> Forward | None:
    """Fill A/AAAA answers, following an ExternalName's CNAME; Forward if it leaves the zone."""
    zone = _zone_name(view.zone)
    chain: list[dns.rrset.RRset] = []
    owner = qname
    for _ in range(MAX_CNAME_CHAIN):
        if not (hits and hits[0].is_hostname):
            ips = [h.host for h in hits]
            found = _addresses(owner, qtype, list(dict.fromkeys(ips)), view.ttl)
            if found or not chain:
                response.answer.extend(chain + found)
            return None
        target = dns.name.from_text(hits[0].host)
        if target == owner:
            return None  # x CNAME x is a loop; CoreDNS leaves it out
        chain.append(_rrset(owner, RT.CNAME, view.ttl, CNAME(IN, RT.CNAME, target)))
        if not target.is_subdomain(zone):
            upstream = dns.message.make_query(target, qtype, use_edns=request.edns,
                                              payload=max(request.payload, UDP_MIN_SIZE))
            upstream.id = request.id
            return Forward(query=upstream.to_wire(), client_query=request.to_wire(),
                           transport=transport, cname=tuple(chain))
        labels = tuple(x.decode("latin-1").lower() for x in target.relativize(zone).labels)
        hits = records(labels, view) or ()
        owner = target
    return None


def _srv(response: dns.message.Message, qname: dns.name.Name, hits: tuple[Hit, ...],
         ttl: int) -> None:
    addressed = [h for h in hits if not h.is_hostname]
    if not addressed:
        return
    # CoreDNS: every record weighs 100, so each gets floor(100 / total * 100), at least 1.
    weight = max(1, math.floor(100.0 / (100 * len(addressed)) * 100))
    srv = dns.rrset.RRset(qname, IN, RT.SRV)
    extra: dict[tuple[str, str], dns.rrset.RRset] = {}
    for hit in addressed:
        if hit.port == NO_PORT:
            continue
        target = dns.name.from_text(hit.domain)
        srv.add(SRV(IN, RT.SRV, 0, weight, hit.port, target), ttl)
        extra.setdefault((hit.domain, hit.host), _address(target, hit.host, ttl))
    if len(srv):
        response.answer.append(srv)
        response.additional.extend(extra.values())


def _reverse_answer(request: dns.message.Message, query: bytes, view: DnsView,
                    transport: Transport) -> Result:
    """PTR for ClusterIPs and endpoints; anything else falls through to the upstreams."""
    question = request.question[0]
    if question.rdtype == RT.PTR:
        try:
            ip = dns.reversename.to_address(question.name)
        except Exception:  # noqa: BLE001 - a partial reverse name has no address
            ip = ""
        targets = reverse(ip, view) if ip else ()
        if targets:
            response = _response(request)
            rdatas = [PTR(IN, RT.PTR, dns.name.from_text(t)) for t in targets]
            response.answer.append(_rrset(question.name, RT.PTR, view.ttl, *rdatas))
            return _render(response, _size(request, transport))
    return Forward(query=query, client_query=query, transport=transport)


def complete(forward: Forward, reply: bytes | None) -> bytes:
    """The client's response once the upstreams answered `forward.query` (None: nobody did)."""
    if not forward.cname:
        if reply is None:
            return servfail(forward.client_query)
        if forward.transport == Transport.UDP and len(reply) > UDP_MIN_SIZE:
            return _refit(forward.client_query, reply)
        return reply
    request = dns.message.from_wire(forward.client_query)
    response = _response(request)
    response.answer.extend(forward.cname)
    if reply is not None:
        # A garbled upstream reply leaves only the CNAME.
        with contextlib.suppress(Exception):
            response.answer.extend(dns.message.from_wire(reply).answer)
    return _render(response, _size(request, forward.transport))


def _refit(client_query: bytes, reply: bytes) -> bytes:
    """An upstream reply too big for the client's UDP payload becomes an empty TC=1 reply."""
    try:
        request = dns.message.from_wire(client_query)
        size = _size(request, Transport.UDP)
        if len(reply) <= size:
            return reply
        upstream = dns.message.from_wire(reply)
    except Exception:  # noqa: BLE001 - cannot judge: pass it on unchanged
        return reply
    response = _response(request, upstream.rcode(), authoritative=False)
    response.flags |= dns.flags.TC | (upstream.flags & dns.flags.RA)
    return _render(response, size)
