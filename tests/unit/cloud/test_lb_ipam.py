"""Frontend IP allocation: keep, request, share, auto (public up, internal down), exhaust."""

from __future__ import annotations

import ipaddress

import pytest

from portico.cloud.lb.ipam import Candidate, Pools, assign, usable

POOLS = Pools(ipaddress.IPv4Network("198.51.100.0/30"), ipaddress.IPv4Network("10.224.0.0/29"),
              frozenset({"10.224.0.6"}))
HTTP = frozenset({("TCP", 80)})
DNS = frozenset({("UDP", 53)})


def c(uid: str, created: str = "1", internal: bool = False, requested: str | None = None,
      ports: frozenset[tuple[str, int]] = HTTP, current: tuple[str, ...] = ()) -> Candidate:
    return Candidate(uid, f"ns/{uid}", created, internal, requested, ports, current)


@pytest.mark.parametrize(("candidates", "ips", "errors"), [
    pytest.param([c("a"), c("b", "2")], {"a": "198.51.100.1", "b": "198.51.100.2"}, {},
                 id="public-lowest-first-skips-dot-0"),
    pytest.param([c("a"), c("b", "2"), c("x", "3")],
                 {"a": "198.51.100.1", "b": "198.51.100.2", "x": "198.51.100.3"}, {},
                 id="fills-the-pool"),
    pytest.param([c("a", internal=True), c("b", "2", internal=True)],
                 {"a": "10.224.0.5", "b": "10.224.0.4"}, {},
                 id="internal-from-the-top-skips-node-and-broadcast"),
    pytest.param([c("a", internal=True), c("b", "2", internal=True),
                  c("d", "3", internal=True)],
                 {"a": "10.224.0.5", "b": "10.224.0.4"},
                 {"d": "no available IPs in internal subnet 10.224.0.0/29"}, id="exhausted"),
    pytest.param([c("old", "1"), c("keeper", "2", current=("198.51.100.3",))],
                 {"old": "198.51.100.1", "keeper": "198.51.100.3"}, {}, id="keeps-its-address"),
    pytest.param([c("young", "2", current=("198.51.100.1",)),
                  c("old", "1", current=("198.51.100.1",))],
                 {"old": "198.51.100.1", "young": "198.51.100.2"}, {},
                 id="duplicate-claim-older-wins"),
    pytest.param([c("a", current=("198.51.100.1",)), c("b", "2", ports=DNS,
                                                        requested="198.51.100.1")],
                 {"a": "198.51.100.1", "b": "198.51.100.1"}, {}, id="shared-ports-differ"),
    pytest.param([c("a", current=("198.51.100.1",)), c("b", "2", requested="198.51.100.1")],
                 {"a": "198.51.100.1"},
                 {"b": "cannot use requested IP: port TCP/80 of 198.51.100.1 is already in use "
                       "by service ns/a"}, id="shared-ports-overlap"),
    pytest.param([c("a", requested="198.51.100.2", current=("198.51.100.1",))],
                 {"a": "198.51.100.2"}, {}, id="request-changed"),
    pytest.param([c("a", requested="198.51.100.9")], {},
                 {"a": "cannot use requested IP: 198.51.100.9 is not in the public pool "
                       "198.51.100.0/30"}, id="request-out-of-pool"),
    pytest.param([c("a", internal=True, current=("198.51.100.1",))], {"a": "10.224.0.5"}, {},
                 id="type-switch-reallocates"),
    pytest.param([c("b", "2"), c("a", "1", requested="198.51.100.1")],
                 {"a": "198.51.100.1", "b": "198.51.100.2"}, {}, id="auto-avoids-requested"),
])
def test_assign(candidates: list[Candidate], ips: dict[str, str],
                errors: dict[str, str]) -> None:
    result = assign(candidates, POOLS)
    assert (result.ips, result.errors) == (ips, errors)


@pytest.mark.parametrize(("ip", "internal", "why"), [
    pytest.param("198.51.100.0", False, "198.51.100.0 ends in .0 or .255", id="dot-0"),
    pytest.param("10.224.0.2", True, "10.224.0.2 is reserved in the internal subnet 10.224.0.0/29",
                 id="azure-reserved"),
    pytest.param("10.224.0.7", True, "10.224.0.7 is reserved in the internal subnet 10.224.0.0/29",
                 id="broadcast"),
    pytest.param("10.224.0.6", True, "10.224.0.6 is a node's address", id="node"),
    pytest.param("nope", False, "'nope' is not a valid IPv4 address", id="garbage"),
    pytest.param("10.224.0.5", True, None, id="ok"),
])
def test_usable(ip: str, internal: bool, why: str | None) -> None:
    assert usable(ip, internal, POOLS) == why
