"""The packet tracer over the rendered policy table agrees with the model, pair by pair.

For each policy set, node-1's table is rendered into a FakeNft and every new
connection between the nine pods of upstream's model (plus an outside client and
the node itself) on TCP/UDP/SCTP 80 and 81 is traced through it; the verdict must
be what `Cluster.decide` says for the directions node-1 enforces (the egress of its
pods, the ingress of its pods).
"""

from __future__ import annotations

import pytest
from netpol_builders import NODE_ADDRESSES, cluster, ip, model_pods, policy
from test_netpol_render import ALLOW, new_state, sync

from portico.model.vocabulary import Protocol
from portico.netpol.model import Cluster, Policy
from portico.netpol.render import TABLE
from portico.testing.nft import FakeNft, Tracer

NS = "kubernetes.io/metadata.name"
POLICY_SETS = {
    "deny-all-x": [policy("x", "deny", {"podSelector": {}, "egress": [],
                                        "policyTypes": ["Ingress", "Egress"]})],
    "named-ports-and-blocks": [ALLOW],
    "egress-to-y-named-udp": [policy("x", "e", {
        "podSelector": {"matchLabels": {"pod": "a"}}, "policyTypes": ["Egress"],
        "egress": [{"to": [{"namespaceSelector": {"matchLabels": {NS: "y"}}}],
                    "ports": [{"port": "serve-81-udp", "protocol": "UDP"}]}]})],
    "sctp-and-ranges": [policy("y", "s", {
        "podSelector": {}, "ingress": [{"ports": [{"protocol": "SCTP"},
                                                  {"port": 79, "endPort": 80}]}]})],
    "ip-block-except": [policy("z", "b", {
        "podSelector": {"matchLabels": {"pod": "a"}},
        "ingress": [{"from": [{"ipBlock": {"cidr": "10.244.0.0/16",
                                           "except": ["10.244.1.0/24"]}}]}]})],
}
SOURCES = [p.ip for p in model_pods()] + ["203.0.113.5", "10.244.0.1"]


def node1_allows(c: Cluster, src: str, dst: str, proto: Protocol, port: int) -> bool:
    """The model's verdict restricted to what node-1 enforces."""
    decision = c.decide(src, dst, proto, port)
    source, destination = c.pods.get(src), c.pods.get(dst)
    egress = source is None or source.node != "node-1" or decision.egress.allowed
    ingress = destination is None or destination.node != "node-1" or decision.ingress.allowed
    return egress and ingress


@pytest.mark.parametrize("name", sorted(POLICY_SETS))
def test_trace_agrees_with_model(name: str) -> None:
    policies: list[Policy] = POLICY_SETS[name]
    nft = FakeNft()
    sync(new_state("node-1", *policies), nft)
    tracer = Tracer(nft, tuple(NODE_ADDRESSES["node-1"]), table=TABLE)
    c = cluster(*policies)
    disagreements = []
    for src in SOURCES:
        for dst in (p.ip for p in model_pods()):
            for proto in Protocol:
                for port in (80, 81):
                    want = node1_allows(c, src, dst, proto, port)
                    got = tracer.trace(src, dst, port, proto.lower()).output
                    if (got == "ACCEPT") != want:
                        disagreements.append((src, dst, proto, port, got))
    assert disagreements == []


def test_a_trace_shows_the_drop() -> None:
    nft = FakeNft()
    sync(new_state("node-1", *POLICY_SETS["deny-all-x"]), nft)
    tracer = Tracer(nft, tuple(NODE_ADDRESSES["node-1"]), table=TABLE)
    assert tracer.trace(ip("y/a"), ip("x/a"), 80).output == "DROP"
    assert tracer.trace(ip("x/a"), ip("y/a"), 80).output == "DROP", "egress of x/a"
    assert tracer.trace("10.244.0.1", ip("x/a"), 80).output == "ACCEPT", "from its node"
