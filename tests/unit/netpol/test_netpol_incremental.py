"""The incremental path: a pod label change is a few element operations, never a re-render,
and any sequence of partial syncs leaves the table a full sync would build."""

from __future__ import annotations

import random

import pytest
from netpol_builders import NODE_ADDRESSES, pod, policy
from test_netpol_render import ALLOW, _full_dump, new_state, sync

from portico.netpol import diff
from portico.netpol._state import PolicyState
from portico.netpol.model import Pod, labels_of
from portico.netpol.render import TABLE
from portico.testing.nft import FakeNft

FROM_B = policy("x", "from-b", {
    "podSelector": {"matchLabels": {"pod": "a"}},
    "ingress": [{"from": [{"podSelector": {"matchLabels": {"pod": "b"}}}],
                 "ports": [{"port": 80}]}]})
FROM_B_ANYWHERE = policy("x", "from-b-anywhere", {
    "podSelector": {"matchLabels": {"pod": "a"}},
    "ingress": [{"from": [{"namespaceSelector": {},
                           "podSelector": {"matchLabels": {"pod": "b"}}}]}]})
NAMED_EGRESS = policy("x", "named-egress", {
    "podSelector": {}, "policyTypes": ["Egress"],
    "egress": [{"to": [{"namespaceSelector": {}}], "ports": [{"port": "serve-80-tcp"}]}]})


def test_peer_label_change_is_element_operations_only() -> None:
    nft = FakeNft()
    state = new_state("node-1", FROM_B, FROM_B_ANYWHERE)
    sync(state, nft)
    state.set_pod("y/b", pod("y", "b", "10.244.1.11", 2, pod="c"))  # out of the 2nd set
    state.set_pod("x/c", pod("x", "c", "10.244.2.10", 3, pod="b"))  # into both sets
    plan = state.plan()
    assert plan.policies == 0
    lines = sorted(plan.tx.script().splitlines())
    sets = sorted(line.split()[4] for line in lines)
    assert len(set(sets)) == 2
    short, wide = sorted(set(sets), key=sets.count)  # x/c joins both, y/b leaves one
    assert lines == sorted([
        f"add element inet {TABLE} {short} {{ 10.244.2.10 }}",
        f"add element inet {TABLE} {wide} {{ 10.244.2.10 }}",
        f"delete element inet {TABLE} {wide} {{ 10.244.1.11 }}"])
    nft.apply(plan.tx)
    state.commit(plan)
    assert nft.dump(name=TABLE) == _full_dump(state)


def test_target_label_change_rerenders_only_its_policies() -> None:
    nft = FakeNft()
    state = new_state("node-1", FROM_B, NAMED_EGRESS)
    sync(state, nft)
    state.set_pod("x/a", pod("x", "a", "10.244.0.10", 1, pod="a", tier="web"))
    assert state.plan().policies == 0  # still selected by the same policies: nothing to do
    state.set_pod("x/a", pod("x", "a", "10.244.0.10", 1, pod="z"))
    plan = state.plan()
    assert plan.policies == 1  # from-b no longer selects it; named-egress still does
    nft.apply(plan.tx)
    state.commit(plan)
    assert nft.dump(name=TABLE) == _full_dump(state)


def test_pod_on_another_node_dirties_no_policy_it_is_only_a_peer_of() -> None:
    state = new_state("node-1", FROM_B)
    sync(state, FakeNft())
    state.set_pod("x/b", pod("x", "b", "10.244.1.10", 2, pod="a"))  # a target, elsewhere
    assert state.plan().policies == 0


def _random_pod(rng: random.Random, current: Pod) -> Pod | None:
    if rng.random() < 0.1:
        return None
    node = rng.choice((1, 1, 2, 3))
    ip = current.ip if rng.random() < 0.8 else f"10.244.{node - 1}.{rng.randrange(30, 60)}"
    labels = {"pod": rng.choice("abcz")}
    if rng.random() < 0.3:
        labels["extra"] = "yes"
    return pod(current.namespace, current.name, ip, node, **labels)


@pytest.mark.parametrize("seed", range(4))
def test_random_changes_keep_partial_equal_to_full(seed: int) -> None:
    rng = random.Random(seed)
    nft = FakeNft()
    state = new_state("node-1", ALLOW, FROM_B, FROM_B_ANYWHERE, NAMED_EGRESS)
    sync(state, nft)
    originals = dict(state._pods)
    for _ in range(30):
        key = rng.choice(sorted(originals))
        current = state._pods.get(key, originals[key])
        if rng.random() < 0.1:  # a policy goes, or comes back
            toggled = rng.choice((FROM_B, FROM_B_ANYWHERE, NAMED_EGRESS))
            present = toggled.key in state.cluster.policies
            state.set_policy(toggled.key, None if present else toggled)
        elif rng.random() < 0.1:
            namespace = rng.choice("yz")
            state.set_namespace(namespace, labels_of({"kubernetes.io/metadata.name": namespace,
                                                      "team": rng.choice("ab")}))
        elif (changed := _random_pod(rng, current)) is None or not any(
                p.ip == changed.ip and p.key != key for p in state._pods.values()):
            state.set_pod(key, changed)
        sync(state, nft)
        assert nft.dump(name=TABLE) == _full_dump(state)


def test_resync_is_a_full_sync_of_the_same_table() -> None:
    nft = FakeNft()
    state = PolicyState("node-1", NODE_ADDRESSES["node-1"])
    state.set_policy(FROM_B.key, FROM_B)
    for p in (pod("x", "a", "10.244.0.10"), pod("x", "b", "10.244.1.10", 2)):
        state.set_pod(p.key, p)
    sync(state, nft)
    before = nft.dump(name=TABLE)
    assert not state.pending()
    state.resync()
    plan = state.plan()
    assert plan.full
    nft.apply(plan.tx)
    state.commit(plan)
    assert nft.dump(name=TABLE) == before


def test_only_a_pod_joining_peer_sets_skips_the_conntrack_pass() -> None:
    nft = FakeNft()
    state = new_state("node-1", FROM_B, FROM_B_ANYWHERE)
    sync(state, nft)

    def allows_only(changed: Pod) -> bool:
        state.set_pod(changed.key, changed)
        plan = state.plan()
        nft.apply(plan.tx)
        state.commit(plan)
        return len(plan.tx) > 0 and diff.only_allows(plan.tx)
    assert allows_only(pod("x", "c", "10.244.2.10", 3, pod="b"))  # joins: allows more
    assert not allows_only(pod("x", "c", "10.244.2.10", 3, pod="c"))  # leaves: may forbid
    assert not allows_only(pod("x", "d", "10.244.0.30", 1, pod="a"))  # newly isolated
