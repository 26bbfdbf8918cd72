"""Partial syncs: a change emits only element diffs (and a new pick chain); no-ops cancel."""

from __future__ import annotations

import pytest
from proxy_builders import CONFIG, World, endpoint, endpoint_slice, port, service

from portico.proxy.diff import Applied, partial_sync
from portico.proxy.model import Endpoint
from portico.proxy.render import Fragment, assign_slots
from portico.testing.nft import FakeNft


def _two_services() -> World:
    w = World()
    for i, name in ((1, "a"), (2, "b")):
        w.apply_service(service("ns", name, f"10.0.0.{i}", [port(80)]))
        w.apply_slice(endpoint_slice("ns", name, [endpoint(f"10.244.1.{i}")], [port(8080)]))
    w.sync()
    return w


def test_one_endpoint_added_emits_only_element_changes() -> None:
    w = _two_services()
    w.apply_slice(endpoint_slice("ns", "a", [endpoint("10.244.1.1"), endpoint("10.244.2.1")],
                                 [port(8080)]))
    plan = w.sync()
    assert not plan.full
    assert plan.tx.script().splitlines() == [
        # pick-2 is new: the only chain a partial sync ever writes
        "add chain inet portico-proxy pick-2",
        "add rule inet portico-proxy pick-2 ct mark set numgen random mod 2",
        "add rule inet portico-proxy pick-2 dnat ip to ip daddr . meta l4proto . th dport"
        " . ct mark map @backends",
        "delete element inet portico-proxy service-ips { 10.0.0.1 . tcp . 80 }",
        "add element inet portico-proxy backends { 10.0.0.1 . tcp . 80 . 1 : 10.244.2.1 . 8080 }",
        'add element inet portico-proxy service-ips { 10.0.0.1 . tcp . 80 comment "ns/a:p80"'
        " : goto pick-2 }",
    ]
    assert w.tracer().trace("10.244.0.9", "10.0.0.1", 80).output == \
        "10.244.1.1:8080, 10.244.2.1:8080"
    # the same change to the other Service reuses pick-2
    w.apply_slice(endpoint_slice("ns", "b", [endpoint("10.244.1.2"), endpoint("10.244.2.2")],
                                 [port(8080)]))
    assert "chain" not in w.sync().tx.script()


def test_removed_endpoint_frees_its_slot_for_the_last_one() -> None:
    w = World()
    w.apply_service(service("ns", "a", "10.0.0.1", [port(80)]))
    w.apply_slice(endpoint_slice("ns", "a", [endpoint(f"10.244.1.{i}") for i in (1, 2, 3)],
                                 [port(8080)]))
    w.sync()
    w.apply_slice(endpoint_slice("ns", "a", [endpoint(f"10.244.1.{i}") for i in (2, 3)],
                                 [port(8080)]))
    assert w.sync().tx.script().splitlines() == [
        "add chain inet portico-proxy pick-2",
        "add rule inet portico-proxy pick-2 ct mark set numgen random mod 2",
        "add rule inet portico-proxy pick-2 dnat ip to ip daddr . meta l4proto . th dport"
        " . ct mark map @backends",
        "delete element inet portico-proxy backends { 10.0.0.1 . tcp . 80 . 0,"
        " 10.0.0.1 . tcp . 80 . 2 }",
        "delete element inet portico-proxy service-ips { 10.0.0.1 . tcp . 80 }",
        "add element inet portico-proxy backends { 10.0.0.1 . tcp . 80 . 0 : 10.244.1.3 . 8080 }",
        'add element inet portico-proxy service-ips { 10.0.0.1 . tcp . 80 comment "ns/a:p80"'
        " : goto pick-2 }",
    ]


def test_last_endpoint_removed_swaps_map_elements() -> None:
    w = _two_services()
    w.apply_slice(endpoint_slice("ns", "b", [], [port(8080)]))
    plan = w.sync()
    assert plan.tx.script().splitlines() == [
        "delete element inet portico-proxy backends { 10.0.0.2 . tcp . 80 . 0 }",
        "delete element inet portico-proxy service-ips { 10.0.0.2 . tcp . 80 }",
        'add element inet portico-proxy no-endpoint-services { 10.0.0.2 . tcp . 80 comment'
        ' "ns/b:p80" : goto reject-chain }',
    ]
    assert w.tracer().trace("10.244.0.9", "10.0.0.2", 80).output == "REJECT"


@pytest.mark.parametrize("twice", [False, True], ids=["update-and-back", "add-then-delete"])
def test_no_op_changes_cancel(twice: bool) -> None:
    w = _two_services()
    a = endpoint_slice("ns", "a", [endpoint("10.244.1.1")], [port(8080)])
    if twice:
        extra = service("ns", "c", "10.0.0.3", [port(80)])
        w.apply_service(extra)
        w.apply_service(extra, deleted=True)
    else:
        w.apply_slice(endpoint_slice("ns", "a", [endpoint("10.244.9.9")], [port(8080)]))
        w.apply_slice(a)
    assert not w.state.pending()
    assert w.sync().tx.script() == ""


def test_failed_apply_keeps_state_and_next_sync_is_full() -> None:
    w = _two_services()
    before = w.nft.dump()
    w.apply_service(service("ns", "c", "10.0.0.3", [port(80)]))
    plan = w.state.plan()
    w.nft.fail_next = "boom"
    with pytest.raises(Exception, match="boom"):
        w.nft.apply(plan.tx)
    w.state.failed()
    assert w.nft.dump() == before
    plan = w.sync()
    assert plan.full
    assert "10.0.0.3 . tcp . 80" in w.nft.dump()


def test_shared_element_survives_removal_of_one_claimant() -> None:
    """Two ports of one Service share their ClusterIP in cluster-ips."""
    w = World()
    w.apply_service(service("ns", "m", "10.0.0.5", [port(80, "http"), port(443, "https")]))
    w.sync()
    w.apply_service(service("ns", "m", "10.0.0.5", [port(443, "https")]))
    plan = w.sync()
    assert "cluster-ips" not in plan.tx.script()
    assert "add element inet portico-proxy cluster-ips { 10.0.0.5 }" in w.nft.dump()


def test_partial_sync_of_unknown_service_removal_is_empty() -> None:
    assert partial_sync(CONFIG, Applied(), {}).script() == ""
    tx = partial_sync(CONFIG, Applied(), {"x": Fragment()})  # type: ignore[dict-item]
    FakeNft().apply(tx)  # an empty transaction needs no table
    assert tx.script() == ""


@pytest.mark.parametrize(("previous", "endpoints", "expected"), [
    pytest.param((), ["b", "a"], ("a", "b"), id="fresh: sorted"),
    pytest.param(("b", "a"), ["a", "b", "c"], ("b", "a", "c"), id="new endpoint appended"),
    pytest.param(("a", "b", "c"), ["a", "c"], ("a", "c"), id="last one fills the hole"),
    pytest.param(("a", "b", "c"), ["b", "c", "d"], ("d", "b", "c"), id="replacement takes slot"),
    pytest.param(("a", "b"), [], (), id="none left"),
])
def test_assign_slots(previous: tuple[str, ...], endpoints: list[str],
                      expected: tuple[str, ...]) -> None:
    eps = [Endpoint(f"10.244.1.{ord(name)}", 80) for name in endpoints]
    prev = tuple(f"10.244.1.{ord(name)}:80" for name in previous)
    assert assign_slots(prev, eps) == tuple(f"10.244.1.{ord(name)}:80" for name in expected)
