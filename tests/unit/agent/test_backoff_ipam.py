"""Crash-loop back-off schedule and pod IPAM."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from portico.agent._backoff import CrashLoopBackoff, back_off_message, format_duration
from portico.agent._ipam import Ipam, IpamExhausted, IpamStore


def test_backoff_schedule_doubles_to_five_minutes() -> None:
    b = CrashLoopBackoff()
    now, waits = 0.0, []
    for _ in range(8):
        # the container ran 1 s and exited at `now`
        wait = b.remaining("k", now, now)
        waits.append(wait)
        now += wait
        b.next("k", now)
        now += 1.0
    assert waits == [0.0, 10.0, 20.0, 40.0, 80.0, 160.0, 300.0, 300.0]


def test_backoff_resets_after_ten_minutes_of_running() -> None:
    b = CrashLoopBackoff()
    b.next("k", 0.0)
    b.next("k", 10.0)
    assert b.current("k") == 20.0
    assert b.remaining("k", 611.0, 611.0) == 0.0
    b.next("k", 611.0)
    assert b.current("k") == 10.0


@pytest.mark.parametrize(("seconds", "text"), [(10, "10s"), (80, "1m20s"), (300, "5m0s")])
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_back_off_message() -> None:
    assert back_off_message(20, "web", "p", "ns", "u-1") == \
        "back-off 20s restarting failed container=web pod=p_ns(u-1)"


def test_ipam_skips_network_bridge_broadcast_and_held() -> None:
    ipam = Ipam("10.244.0.0/24", "10.244.0.1")
    assert ipam.reserve("old", "10.244.0.3")
    assert [ipam.allocate(u) for u in ("a", "b", "a")] == ["10.244.0.2", "10.244.0.4",
                                                           "10.244.0.2"]
    assert not ipam.reserve("c", "10.244.0.3")
    assert not ipam.reserve("c", "10.244.0.1")
    assert not ipam.reserve("c", "10.244.0.255")
    ipam.release("a")
    # round robin: the freed .2 comes back only after the rest of the range
    assert ipam.allocate("d") == "10.244.0.5"


def test_ipam_reuses_freed_addresses_last() -> None:
    ipam = Ipam("10.244.0.0/29", "10.244.0.1")
    assert [ipam.allocate(u) for u in ("a", "b", "c", "d", "e")] == [
        "10.244.0.2", "10.244.0.3", "10.244.0.4", "10.244.0.5", "10.244.0.6"]
    ipam.release("b")
    ipam.release("d")
    assert [ipam.allocate(u) for u in ("f", "g")] == ["10.244.0.3", "10.244.0.5"]


def test_ipam_exhausted() -> None:
    ipam = Ipam("10.244.0.0/30", "10.244.0.1")
    assert ipam.allocate("a") == "10.244.0.2"
    with pytest.raises(IpamExhausted):
        ipam.allocate("b")


def test_ipam_store_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "ipam.json"
    store = IpamStore(path, "10.244.1.0/24", "10.244.1.1")
    assert store.allocate("a") == "10.244.1.2"
    assert store.allocate("b") == "10.244.1.3"
    store.release("a")
    assert json.loads(path.read_text()) == {"addresses": {"b": "10.244.1.3"},
                                            "last": "10.244.1.3"}
    again = IpamStore(path, "10.244.1.0/24", "10.244.1.1")
    assert again.allocate("b") == "10.244.1.3"
    assert again.allocate("c") == "10.244.1.4"


async def test_ipam_store_writes_in_the_background(tmp_path: Path) -> None:
    path = tmp_path / "ipam.json"
    store = IpamStore(path, "10.244.1.0/24", "10.244.1.1")
    assert [store.allocate(u) for u in ("a", "b", "c")] == [
        "10.244.1.2", "10.244.1.3", "10.244.1.4"]
    store.release("b")
    await store.flush()
    assert json.loads(path.read_text()) == {"addresses": {"a": "10.244.1.2",
                                                          "c": "10.244.1.4"},
                                            "last": "10.244.1.4"}


def test_agent_config_round_trip(tmp_path: Path) -> None:
    from portico.agent import AgentConfig

    config = AgentConfig(
        cluster_name="c", node_name="node-1", node_ip="10.224.0.4", pod_cidr="10.244.0.0/24",
        bridge_ip="10.244.0.1", kubeconfig=tmp_path / "kc", data_dir=tmp_path,
        serving_cert=tmp_path / "s.crt", serving_key=tmp_path / "s.key",
        client_ca=tmp_path / "ca.crt", images_file=None)
    config.to_file(tmp_path / "agent.json")
    assert AgentConfig.from_file(tmp_path / "agent.json") == config
