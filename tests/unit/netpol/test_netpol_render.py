"""Golden tests of the rendered `inet portico-netpol` table, and partial == full syncs."""

from __future__ import annotations

import textwrap

import pytest
from netpol_builders import NODE_ADDRESSES, model_pods, pod, policy

from portico.netpol._state import PolicyState
from portico.netpol.model import Policy, labels_of
from portico.netpol.render import TABLE
from portico.testing.nft import FakeNft

ALLOW_SPEC_FROM = [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "y"}},
                    "podSelector": {"matchLabels": {"pod": "b"}}},
                   {"ipBlock": {"cidr": "192.0.2.0/24", "except": ["192.0.2.128/25"]}}]
ALLOW = policy("x", "allow-y-b", {
    "podSelector": {"matchLabels": {"pod": "a"}},
    "ingress": [{"from": ALLOW_SPEC_FROM,
        "ports": [{"port": 80, "protocol": "TCP"}, {"port": 81, "endPort": 90, "protocol": "TCP"},
                  {"port": "serve-81-udp", "protocol": "UDP"}]}],
    "egress": [{}], "policyTypes": ["Ingress", "Egress"]})

GOLDEN = textwrap.dedent("""\
    add table inet portico-netpol { comment "NetworkPolicy rules of portico" ; }
    add chain inet portico-netpol egress { type filter hook postrouting priority 90 ; }
    add chain inet portico-netpol egress-3b1b37e5d2e4
    add chain inet portico-netpol ingress { type filter hook postrouting priority 110 ; }
    add chain inet portico-netpol ingress-3b1b37e5d2e4
    add set inet portico-netpol np-3b1b37e5-in-0-named { type ipv4_addr . inet_proto . inet_service ; }
    add set inet portico-netpol peers-a57f13707897 { type ipv4_addr ; flags interval ; }
    add set inet portico-netpol self { type ipv4_addr . ipv4_addr ; }
    add map inet portico-netpol egress-pods { type ipv4_addr : verdict ; }
    add map inet portico-netpol ingress-pods { type ipv4_addr : verdict ; }
    add rule inet portico-netpol egress ct state established,related accept
    add rule inet portico-netpol egress ip saddr . ip daddr @self accept
    add rule inet portico-netpol egress ip saddr vmap @egress-pods
    add rule inet portico-netpol egress-3b1b37e5d2e4 counter accept comment "x/allow-y-b Egress"
    add rule inet portico-netpol egress-3b1b37e5d2e4 drop
    add rule inet portico-netpol ingress ct state established,related accept
    add rule inet portico-netpol ingress ip saddr 10.224.0.4 accept
    add rule inet portico-netpol ingress ip saddr 10.244.0.1 accept
    add rule inet portico-netpol ingress ip saddr . ip daddr @self accept
    add rule inet portico-netpol ingress ip daddr vmap @ingress-pods
    add rule inet portico-netpol ingress-3b1b37e5d2e4 ip saddr @peers-a57f13707897 meta l4proto tcp th dport 80-90 counter accept comment "x/allow-y-b Ingress"
    add rule inet portico-netpol ingress-3b1b37e5d2e4 ip saddr @peers-a57f13707897 ip daddr . meta l4proto . th dport @np-3b1b37e5-in-0-named counter accept comment "x/allow-y-b Ingress"
    add rule inet portico-netpol ingress-3b1b37e5d2e4 drop
    add element inet portico-netpol egress-pods { 10.244.0.10 : jump egress-3b1b37e5d2e4 }
    add element inet portico-netpol ingress-pods { 10.244.0.10 : jump ingress-3b1b37e5d2e4 }
    add element inet portico-netpol np-3b1b37e5-in-0-named { 10.244.0.10 . udp . 81 }
    add element inet portico-netpol peers-a57f13707897 { 10.244.1.11 }
    add element inet portico-netpol peers-a57f13707897 { 192.0.2.0/25 }
    add element inet portico-netpol self { 10.244.0.10 . 10.244.0.10 }
    """)  # noqa: E501 - rules are one line each


def new_state(node: str = "node-1", *policies: Policy) -> PolicyState:
    state = PolicyState(node, NODE_ADDRESSES[node])
    for ns in "xyz":
        state.set_namespace(ns, labels_of({"kubernetes.io/metadata.name": ns}))
    for p in model_pods():
        state.set_pod(p.key, p)
    for p in policies:
        state.set_policy(p.key, p)
    return state


def sync(state: PolicyState, nft: FakeNft) -> int:
    plan = state.plan()
    nft.apply(plan.tx)
    state.commit(plan)
    return len(plan.tx)


def test_golden_full_sync() -> None:
    nft = FakeNft()
    sync(new_state("node-1", ALLOW), nft)
    assert nft.dump(name=TABLE) == GOLDEN


def test_policy_selecting_no_local_pod_costs_nothing() -> None:
    nft = FakeNft()
    sync(new_state("node-2", ALLOW), nft)
    assert "np-" not in nft.dump(name=TABLE)


def _full_dump(state: PolicyState) -> str:
    fresh = new_state(state.node)
    fresh.cluster = state.cluster
    nft = FakeNft()
    sync(fresh, nft)
    return nft.dump(name=TABLE)


@pytest.mark.parametrize("change", [
    pytest.param(lambda s: s.set_pod("y/b", pod("y", "b", "10.244.1.11", 2, pod="c")),
                 id="peer-relabelled-out"),
    pytest.param(lambda s: s.set_pod("y/c", pod("y", "c", "10.244.2.11", 3, pod="b")),
                 id="peer-relabelled-in"),
    pytest.param(lambda s: s.set_pod("x/a", pod("x", "a", "10.244.0.10", 1, pod="z")),
                 id="target-relabelled-out"),
    pytest.param(lambda s: s.set_pod("x/b", pod("x", "b", "10.244.0.20", 1, pod="a")),
                 id="second-local-target"),
    pytest.param(lambda s: s.set_pod("y/b", None), id="peer-deleted"),
    pytest.param(lambda s: s.set_namespace("y", (("kubernetes.io/metadata.name", "w"),)),
                 id="namespace-relabelled"),
    pytest.param(lambda s: s.set_policy("x/allow-y-b", None), id="policy-deleted"),
    pytest.param(lambda s: s.set_policy("x/deny", policy("x", "deny", {"podSelector": {}})),
                 id="second-policy"),
])
def test_partial_sync_equals_full_sync(change: object) -> None:
    nft = FakeNft()
    state = new_state("node-1", ALLOW)
    sync(state, nft)
    change(state)  # type: ignore[operator]
    sync(state, nft)
    assert nft.dump(name=TABLE) == _full_dump(state)


def test_rules_with_the_same_peers_share_one_set() -> None:
    twin = policy("x", "twin", {"podSelector": {"matchLabels": {"pod": "a"}},
                                "ingress": [{"from": ALLOW_SPEC_FROM, "ports": [{"port": 9}]}]})
    nft = FakeNft()
    sync(new_state("node-1", ALLOW, twin), nft)
    assert nft.dump(name=TABLE).count("add set inet portico-netpol peers-") == 1


def test_unrelated_label_change_renders_nothing() -> None:
    nft = FakeNft()
    state = new_state("node-1", ALLOW)
    sync(state, nft)
    state.set_pod("z/a", pod("z", "a", "10.244.0.12", 1, pod="a", extra="yes"))
    plan = state.plan()
    assert plan.policies == 0
    assert len(plan.tx) == 0


def test_failed_sync_makes_the_next_one_full() -> None:
    nft = FakeNft()
    state = new_state("node-1", ALLOW)
    sync(state, nft)
    state.set_pod("y/b", None)
    plan = state.plan()
    state.failed()
    assert state.plan().full and not plan.full
