"""A small cluster as API objects, and helpers to ask `answer()` with wire bytes."""

from __future__ import annotations

from typing import Any

import dns.flags
import dns.message
import dns.rcode

from portico.dns import DnsView, Forward, Transport, answer, build_view

NAMESPACES = [{"metadata": {"name": n}} for n in ("default", "shop", "kube-system")]


def service(ns: str, name: str, **spec: Any) -> dict[str, Any]:
    return {"metadata": {"namespace": ns, "name": name}, "spec": spec}


def endpoint_slice(ns: str, svc: str, endpoints: list[dict[str, Any]],
                   ports: list[dict[str, Any]] | None = None, suffix: str = "abc",
                   address_type: str = "IPv4") -> dict[str, Any]:
    return {"metadata": {"namespace": ns, "name": f"{svc}-{suffix}",
                         "labels": {"kubernetes.io/service-name": svc}},
            "addressType": address_type, "endpoints": endpoints, "ports": ports or []}


def ep(ip: str, ready: bool | None = True, hostname: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"addresses": [ip]}
    if ready is not None:
        body["conditions"] = {"ready": ready}
    if hostname:
        body["hostname"] = hostname
    return body


SERVICES = [
    service("shop", "web", clusterIP="10.0.0.42", clusterIPs=["10.0.0.42"],
            ports=[{"name": "http", "port": 80, "protocol": "TCP"},
                   {"name": "https", "port": 443, "protocol": "TCP"}]),
    service("shop", "db", clusterIP="None", clusterIPs=["None"],
            ports=[{"name": "pg", "port": 5432, "protocol": "TCP"}]),
    service("shop", "ext", type="ExternalName", externalName="example.com"),
    service("shop", "alias", type="ExternalName", externalName="web.shop.svc.cluster.local"),
    service("shop", "empty", clusterIP="None", clusterIPs=["None"], ports=[{"port": 80}]),
    service("shop", "dns6", clusterIP="fd00::a", clusterIPs=["fd00::a"], ports=[{"port": 53}]),
    service("kube-system", "kube-dns", clusterIP="10.0.0.10", clusterIPs=["10.0.0.10"],
            ports=[{"name": "dns", "port": 53, "protocol": "UDP"}]),
]

SLICES = [
    endpoint_slice("shop", "db", [ep("10.244.0.5", hostname="db-0"), ep("10.244.1.7"),
                                  ep("10.244.1.8", ready=False)],
                   ports=[{"name": "pg", "port": 5432, "protocol": "TCP"}]),
    endpoint_slice("shop", "web", [ep("10.244.0.9"), ep("10.244.2.3", ready=False)],
                   ports=[{"name": "http", "port": 8080, "protocol": "TCP"}]),
]

VIEW = build_view(NAMESPACES, SERVICES, SLICES, serial=1700000000)


def query(name: str, rdtype: str = "A", *, ident: int = 4242, **kw: Any) -> bytes:
    msg = dns.message.make_query(name, rdtype, **kw)
    msg.id = ident
    return msg.to_wire()


def ask(name: str, rdtype: str = "A", view: DnsView = VIEW,
        transport: Transport = Transport.UDP, **kw: Any) -> dns.message.Message:
    result = answer(query(name, rdtype, **kw), view, transport)
    assert isinstance(result, bytes), result
    return dns.message.from_wire(result)


def summary(msg: dns.message.Message) -> dict[str, Any]:
    """rcode, flags and each section as text lines: the exact expected values of the tests."""
    return {
        "rcode": dns.rcode.to_text(msg.rcode()),
        "flags": dns.flags.to_text(msg.flags),
        "answer": [line for rrset in msg.answer for line in rrset.to_text().splitlines()],
        "authority": [line for rrset in msg.authority for line in rrset.to_text().splitlines()],
        "additional": [line for rrset in msg.additional for line in rrset.to_text().splitlines()],
    }


def forwarded(name: str, rdtype: str = "A", view: DnsView = VIEW) -> Forward:
    result = answer(query(name, rdtype), view)
    assert isinstance(result, Forward), result
    return result
