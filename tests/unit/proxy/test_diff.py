"""Partial syncs: a change emits only its service's objects; no-ops cancel; failures go full."""

from __future__ import annotations

import pytest
from proxy_builders import CONFIG, World, endpoint, endpoint_slice, port, service

from portico.proxy.diff import Applied, partial_sync
from portico.proxy.render import Fragment
from portico.testing.nft import FakeNft


def _two_services() -> World:
    w = World()
    for i, name in ((1, "a"), (2, "b")):
        w.apply_service(service("ns", name, f"10.0.0.{i}", [port(80)]))
        w.apply_slice(endpoint_slice("ns", name, [endpoint(f"10.244.1.{i}")], [port(8080)]))
    w.sync()
    return w


def test_one_endpoint_added_emits_only_that_service() -> None:
    w = _two_services()
    w.apply_slice(endpoint_slice("ns", "a", [endpoint("10.244.1.1"), endpoint("10.244.2.1")],
                                 [port(8080)]))
    plan = w.sync()
    assert not plan.full
    assert plan.tx.script() == (
        "add chain inet portico-proxy endpoint-3ERKEHZT-ns/a/tcp/p80__10.244.2.1/8080\n"
        "flush chain inet portico-proxy service-4BGMBBTA-ns/a/tcp/p80\n"
        "add rule inet portico-proxy service-4BGMBBTA-ns/a/tcp/p80 ip daddr 10.0.0.1 tcp dport 80"
        " ip saddr != 10.244.0.0/16 jump mark-for-masquerade\n"
        "add rule inet portico-proxy service-4BGMBBTA-ns/a/tcp/p80 numgen random mod 2 vmap"
        " { 0 : goto endpoint-AOYBPGUC-ns/a/tcp/p80__10.244.1.1/8080,"
        " 1 : goto endpoint-3ERKEHZT-ns/a/tcp/p80__10.244.2.1/8080 }\n"
        "add rule inet portico-proxy endpoint-3ERKEHZT-ns/a/tcp/p80__10.244.2.1/8080"
        " ip saddr 10.244.2.1 jump mark-for-masquerade\n"
        "add rule inet portico-proxy endpoint-3ERKEHZT-ns/a/tcp/p80__10.244.2.1/8080"
        " meta l4proto tcp dnat ip to 10.244.2.1:8080\n")
    assert w.tracer().trace("10.244.0.9", "10.0.0.1", 80).output == \
        "10.244.1.1:8080, 10.244.2.1:8080"


def test_last_endpoint_removed_swaps_map_elements_and_deletes_chains() -> None:
    w = _two_services()
    w.apply_slice(endpoint_slice("ns", "b", [], [port(8080)]))
    plan = w.sync()
    lines = plan.tx.script().splitlines()
    assert lines == [
        "flush chain inet portico-proxy endpoint-GEABZSFH-ns/b/tcp/p80__10.244.1.2/8080",
        "flush chain inet portico-proxy service-K3LGGN73-ns/b/tcp/p80",
        "delete element inet portico-proxy service-ips { 10.0.0.2 . tcp . 80 }",
        "delete chain inet portico-proxy endpoint-GEABZSFH-ns/b/tcp/p80__10.244.1.2/8080",
        "delete chain inet portico-proxy service-K3LGGN73-ns/b/tcp/p80",
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
    tx = partial_sync(CONFIG, Applied(), {})
    FakeNft().apply(tx)  # an empty transaction needs no table
    assert Fragment().chains == {}
