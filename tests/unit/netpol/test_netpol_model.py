"""The pure policy model: policy set + pods -> allowed?, and by which policy."""

from __future__ import annotations

import pytest
from netpol_builders import cluster, ip, policy

from portico.model.vocabulary import Protocol

TCP, UDP, SCTP = Protocol.TCP, Protocol.UDP, Protocol.SCTP
DENY_INGRESS_X = policy("x", "deny", {"podSelector": {}, "policyTypes": ["Ingress"]})
ALLOW_XB_TO_XA = policy("x", "allow-b", {"podSelector": {"matchLabels": {"pod": "a"}},
                                         "ingress": [{"from": [{"podSelector": {
                                             "matchLabels": {"pod": "b"}}}]}]})


@pytest.mark.parametrize(("policies", "src", "dst", "proto", "port", "allowed"), [
    pytest.param([], "y/a", "x/a", TCP, 80, True, id="no-policy-allows"),
    pytest.param([DENY_INGRESS_X], "y/a", "x/a", TCP, 80, False, id="deny-all-ingress"),
    pytest.param([DENY_INGRESS_X], "x/a", "y/a", TCP, 80, True, id="egress-not-isolated"),
    pytest.param([DENY_INGRESS_X], "x/a", "x/a", TCP, 80, True, id="self-always"),
    pytest.param([DENY_INGRESS_X, ALLOW_XB_TO_XA], "x/b", "x/a", TCP, 80, True, id="union"),
    pytest.param([ALLOW_XB_TO_XA], "y/b", "x/a", TCP, 80, False,
                 id="pod-selector-is-own-namespace"),
    pytest.param([ALLOW_XB_TO_XA], "x/c", "x/b", TCP, 80, True, id="unselected-pod-open"),
])
def test_decide(policies: list, src: str, dst: str, proto: Protocol, port: int,
                allowed: bool) -> None:
    assert cluster(*policies).decide(ip(src), ip(dst), proto, port).allowed is allowed


def test_allowed_by_names_every_allowing_policy() -> None:
    extra = policy("x", "all-from-y", {"podSelector": {}, "ingress": [{"from": [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "x"}}}]}]})
    decision = cluster(DENY_INGRESS_X, ALLOW_XB_TO_XA, extra).decide(
        ip("x/b"), ip("x/a"), TCP, 80)
    assert decision.ingress.allowed_by == ("x/all-from-y", "x/allow-b")
    assert decision.ingress.isolated


@pytest.mark.parametrize(("ports", "proto", "port", "allowed"), [
    pytest.param([{"port": 80}], TCP, 80, True, id="number-defaults-tcp"),
    pytest.param([{"port": 80}], UDP, 80, False, id="number-other-protocol"),
    pytest.param([{"port": 80, "endPort": 90, "protocol": "TCP"}], TCP, 90, True,
                 id="end-port-inclusive"),
    pytest.param([{"port": 80, "endPort": 90, "protocol": "TCP"}], TCP, 91, False,
                 id="past-end-port"),
    pytest.param([{"port": "serve-81-udp", "protocol": "UDP"}], UDP, 81, True,
                 id="named-port-of-destination"),
    pytest.param([{"port": "serve-81-udp", "protocol": "UDP"}], TCP, 81, False,
                 id="named-port-protocol"),
    pytest.param([{"protocol": "SCTP"}], SCTP, 5000, True, id="every-sctp-port"),
    pytest.param([{"protocol": "SCTP", "port": 80}], TCP, 80, False, id="sctp-is-not-tcp"),
])
def test_ports(ports: list, proto: Protocol, port: int, allowed: bool) -> None:
    p = policy("x", "ports", {"podSelector": {}, "ingress": [{"ports": ports}]})
    assert cluster(p).decide(ip("y/a"), ip("x/a"), proto, port).allowed is allowed


@pytest.mark.parametrize(("peer", "src", "allowed"), [
    pytest.param({"namespaceSelector": {}}, "z/c", True, id="all-namespaces"),
    pytest.param({"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "y"}},
                  "podSelector": {"matchLabels": {"pod": "b"}}}, "y/b", True, id="and-match"),
    pytest.param({"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "y"}},
                  "podSelector": {"matchLabels": {"pod": "b"}}}, "y/a", False, id="and-miss"),
    pytest.param({"ipBlock": {"cidr": "10.244.0.0/16", "except": ["10.244.1.0/24"]}}, "y/a",
                 True, id="ip-block"),
    pytest.param({"ipBlock": {"cidr": "10.244.0.0/16", "except": ["10.244.1.0/24"]}}, "y/b",
                 False, id="ip-block-except"),
    pytest.param({"podSelector": {"matchLabels": {"nobody": "has-it"}}}, "x/b", False,
                 id="selects-nothing"),
])
def test_peers(peer: dict, src: str, allowed: bool) -> None:
    p = policy("x", "peer", {"podSelector": {"matchLabels": {"pod": "a"}},
                             "ingress": [{"from": [peer]}]})
    assert cluster(p).decide(ip(src), ip("x/a"), TCP, 80).allowed is allowed


def test_policy_types_default_from_egress_rules() -> None:
    egress_only = policy("x", "e", {"podSelector": {}, "egress": [{"ports": [{"port": 53}]}]})
    assert egress_only.types == {"Ingress", "Egress"}
    c = cluster(egress_only)
    assert not c.decide(ip("x/a"), ip("y/a"), TCP, 80).allowed
    assert c.decide(ip("x/a"), ip("y/a"), TCP, 53).allowed
    assert not c.decide(ip("y/a"), ip("x/a"), TCP, 53).allowed, "ingress: no rules = deny"


def test_node_traffic_to_its_pods_is_always_allowed() -> None:
    c = cluster(DENY_INGRESS_X)
    assert c.decide("10.244.0.1", ip("x/a"), TCP, 80).ingress.always == "node"
    assert not c.decide("10.224.0.5", ip("x/a"), TCP, 80).allowed, "another node's address"


def test_external_client_and_ip_block() -> None:
    p = policy("x", "lb", {"podSelector": {}, "ingress": [{"from": [
        {"ipBlock": {"cidr": "203.0.113.0/24"}}]}]})
    assert cluster(p).decide("203.0.113.7", ip("x/a"), TCP, 80).allowed
    assert not cluster(p).decide("198.51.100.7", ip("x/a"), TCP, 80).allowed
