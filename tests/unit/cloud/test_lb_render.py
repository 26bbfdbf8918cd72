"""The renderer: golden nft text, health-only updates, policy routes, idle timeouts,
and `nft -c` for real."""

from __future__ import annotations

import re
import subprocess
import textwrap

import pytest

from portico.cloud.lb.model import (
    BackendAddressPool,
    BackendMember,
    FrontendIPConfiguration,
    HealthState,
    LoadBalancer,
    LoadBalancerType,
    LoadBalancingRule,
    LoadDistribution,
    Probe,
    ProbeProtocol,
    TransportProtocol,
    probe_target,
)
from portico.cloud.lb.render import (
    FAMILY,
    IDLE_TABLE,
    SLOTS,
    TABLE,
    IdleTimeout,
    PolicyRoute,
    idle_script,
    mark_of,
    render,
    script,
)
from portico.testing.sandbox import Sandbox, is_root

N1, N2 = BackendMember("node-1", "10.224.0.4"), BackendMember("node-2", "10.224.0.5")
PROBE = Probe("a1-TCP-80", ProbeProtocol.TCP, 30080, None, 5, 2)


def delete_script() -> str:
    """Remove the load balancer's tables if present."""
    return "".join(f"add table {FAMILY} {name}\ndelete table {FAMILY} {name}\n"
                   for name in (TABLE, IDLE_TABLE))


def rule(name: str, ip: str, port: int, floating: bool = True,
         distribution: LoadDistribution = LoadDistribution.DEFAULT,
         probe: str | None = None, protocol: TransportProtocol = TransportProtocol.TCP,
         frontend: str = "a1", backend: int | None = None, idle: int = 4
         ) -> LoadBalancingRule:
    return LoadBalancingRule(name, frontend, ip, protocol, port,
                             backend if backend is not None else port, floating, idle,
                             distribution, probe)


LB = LoadBalancer(
    "portico", LoadBalancerType.PUBLIC,
    (FrontendIPConfiguration("a1", "198.51.100.1", "default/web", LoadBalancerType.PUBLIC,
                             ("10.223.0.0/30",)),
     FrontendIPConfiguration("a2", "198.51.100.2", "default/dns", LoadBalancerType.PUBLIC)),
    BackendAddressPool("portico", (N1, N2)),
    (rule("a1-TCP-80", "198.51.100.1", 80, probe="a1-TCP-80"),
     rule("a2-UDP-53", "198.51.100.2", 53, floating=False, frontend="a2", backend=30053,
          distribution=LoadDistribution.SOURCE_IP, protocol=TransportProtocol.UDP)),
    (PROBE,))

GOLDEN = textwrap.dedent("""\
    table inet portico-lb {
    \tchain prerouting {
    \t\ttype filter hook prerouting priority mangle; policy accept;
    \t\tct direction reply return
    \t\tct state != new meta mark set ct mark return
    \t\tip daddr . meta l4proto . th dport vmap @rules
    \t\tip daddr @frontend-ips drop
    \t}
    \tchain nat-prerouting {
    \t\ttype nat hook prerouting priority dstnat; policy accept;
    \t\tip daddr . meta l4proto . th dport vmap @nat-rules
    \t}
    \tmap rules {
    \t\ttype ipv4_addr . inet_proto . inet_service : verdict
    \t\telements = { 198.51.100.1 . tcp . 80 : goto rule-a1-TCP-80, 198.51.100.2 . udp . 53 : goto rule-a2-UDP-53 }
    \t}
    \tmap nat-rules {
    \t\ttype ipv4_addr . inet_proto . inet_service : verdict
    \t\telements = { 198.51.100.2 . udp . 53 : goto nat-a2-UDP-53 }
    \t}
    \tset frontend-ips {
    \t\ttype ipv4_addr
    \t\telements = { 198.51.100.1, 198.51.100.2 }
    \t}
    \tset allow-a1 {
    \t\ttype ipv4_addr
    \t\tflags interval
    \t\telements = { 10.223.0.0/30 }
    \t}
    \tchain rule-a1-TCP-80 {
    \t\tip saddr != @allow-a1 drop
    \t\tct mark set numgen random mod 60 map @backends-a1-TCP-80
    \t\tct mark 0 drop
    \t\tmeta mark set ct mark
    \t}
    \tmap backends-a1-TCP-80 {
    \t\ttypeof numgen random mod 60 : meta mark
    \t}
    \tchain rule-a2-UDP-53 {
    \t\tct mark set jhash ip saddr mod 60 map @backends-a2-UDP-53
    \t\tct mark 0 drop
    \t\tmeta mark set ct mark
    \t}
    \tmap backends-a2-UDP-53 {
    \t\ttypeof numgen random mod 60 : meta mark
    \t}
    \tchain nat-a2-UDP-53 {
    \t\tmeta l4proto udp dnat ip to ct mark map @nodeports-a2-UDP-53
    \t}
    \tmap nodeports-a2-UDP-53 {
    \t\ttype mark : ipv4_addr . inet_service
    \t\telements = { 0x10004 : 10.224.0.4 . 30053, 0x10005 : 10.224.0.5 . 30053 }
    \t}
    }
    """)  # noqa: E501

UP = {probe_target(PROBE, N1): HealthState.UP, probe_target(PROBE, N2): HealthState.UP}
ONE_DOWN = {probe_target(PROBE, N1): HealthState.UP, probe_target(PROBE, N2): HealthState.DOWN}
BOTH = tuple(f"{i} : {0x10004 if i % 2 == 0 else 0x10005:#x}" for i in range(SLOTS))
ONLY_1 = tuple(f"{i} : 0x10004" for i in range(SLOTS))


def test_golden_structure_and_routes() -> None:
    ruleset = render([LB], UP)
    assert ruleset.structure == GOLDEN
    assert ruleset.routes == (PolicyRoute(0x10004, "10.224.0.4"),
                              PolicyRoute(0x10005, "10.224.0.5"))
    assert ruleset.backends == {"backends-a1-TCP-80": BOTH, "backends-a2-UDP-53": BOTH}


@pytest.mark.parametrize(("health", "tcp_backends"), [
    pytest.param(UP, BOTH, id="both-up"),
    pytest.param(ONE_DOWN, ONLY_1, id="node-2-down"),
    pytest.param({}, (), id="unprobed-is-down"),
])
def test_backends_follow_health_but_unprobed_rules_use_the_pool(
        health: dict, tcp_backends: tuple[str, ...]) -> None:
    backends = render([LB], health).backends
    assert backends == {"backends-a1-TCP-80": tcp_backends, "backends-a2-UDP-53": BOTH}


def test_probe_flap_changes_only_the_backend_map() -> None:
    previous, current = render([LB], UP), render([LB], ONE_DOWN)
    assert script(previous, current) == (
        "flush map inet portico-lb backends-a1-TCP-80\n"
        "add element inet portico-lb backends-a1-TCP-80 { " + ", ".join(ONLY_1) + " }\n")
    assert script(current, render([LB], {})) == "flush map inet portico-lb backends-a1-TCP-80\n"
    assert script(current, current) == ""


def test_structure_change_replaces_the_table() -> None:
    text = script(None, render([LB], UP))
    assert text.startswith("add table inet portico-lb\ndelete table inet portico-lb\n"
                           "table inet portico-lb {\n")
    assert text.endswith("add element inet portico-lb backends-a2-UDP-53 { "
                         + ", ".join(BOTH) + " }\n" + idle_script(render([LB], UP).idle))
    empty = render([], {})
    assert script(render([LB], UP), empty).count("table inet portico-lb {\n") == 1
    assert "elements" not in empty.structure


def test_marks() -> None:
    assert (mark_of("10.224.0.4"), mark_of("10.224.1.4")) == (0x10004, 0x10104)


IDLE_LB = LoadBalancer(
    "portico", LoadBalancerType.PUBLIC, LB.frontend_ip_configurations,
    BackendAddressPool("portico", (N1,)),
    (rule("a1-TCP-443", "198.51.100.1", 443, idle=30),
     rule("a1-TCP-80", "198.51.100.1", 80, idle=5),
     rule("a2-TCP-53", "198.51.100.2", 53, frontend="a2", idle=5),
     rule("a2-UDP-53", "198.51.100.2", 53, frontend="a2", idle=30,
          protocol=TransportProtocol.UDP)),
    ())

IDLE_GOLDEN = textwrap.dedent("""\
    add table inet portico-lb-idle
    add chain inet portico-lb-idle prerouting { type filter hook prerouting priority mangle; policy accept; }
    add map inet portico-lb-idle frontends { type ipv4_addr . inet_service : verdict; }
    add ct timeout inet portico-lb-idle idle-5m { protocol tcp; l3proto ip; policy = { established: 300 }; }
    add chain inet portico-lb-idle idle-5m
    flush chain inet portico-lb-idle idle-5m
    add rule inet portico-lb-idle idle-5m ct timeout set "idle-5m"
    add ct timeout inet portico-lb-idle idle-30m { protocol tcp; l3proto ip; policy = { established: 1800 }; }
    add chain inet portico-lb-idle idle-30m
    flush chain inet portico-lb-idle idle-30m
    add rule inet portico-lb-idle idle-30m ct timeout set "idle-30m"
    flush chain inet portico-lb-idle prerouting
    add rule inet portico-lb-idle prerouting ct state new meta l4proto tcp ip daddr . th dport vmap @frontends
    flush map inet portico-lb-idle frontends
    add element inet portico-lb-idle frontends { 198.51.100.1 . 80 : goto idle-5m, 198.51.100.1 . 443 : goto idle-30m, 198.51.100.2 . 53 : goto idle-5m }
    """)  # noqa: E501


def test_idle_timeouts_of_tcp_rules_golden() -> None:
    ruleset = render([IDLE_LB], {})
    assert ruleset.idle == (IdleTimeout("198.51.100.1", 80, 5),
                            IdleTimeout("198.51.100.1", 443, 30),
                            IdleTimeout("198.51.100.2", 53, 5))
    assert idle_script(ruleset.idle) == IDLE_GOLDEN
    assert "portico-lb-idle" not in ruleset.structure


def test_idle_timeout_change_leaves_the_lb_table_alone() -> None:
    before = render([LB], UP)
    five = LoadBalancer(LB.name, LB.type, LB.frontend_ip_configurations,
                        LB.backend_address_pool,
                        (rule("a1-TCP-80", "198.51.100.1", 80, probe="a1-TCP-80", idle=5),
                         LB.load_balancing_rules[1]), LB.probes)
    after = render([five], UP)
    assert after.structure == before.structure
    text = script(before, after)
    assert text == idle_script(after.idle)
    assert text.endswith("{ 198.51.100.1 . 80 : goto idle-5m }\n")
    assert script(after, after) == ""


def test_no_tcp_rule_empties_the_idle_map() -> None:
    text = script(render([LB], UP), render([], {}))
    assert text.endswith("flush map inet portico-lb-idle frontends\n")
    assert "add element inet portico-lb-idle" not in text


@pytest.mark.skipif(not is_root(), reason="needs root for a throwaway netns")
def test_idle_table_keeps_its_timeouts_across_syncs() -> None:
    with Sandbox() as box:
        first = render([LB], UP)
        for text in (script(None, first), script(None, first)):  # a restart re-applies
            box.run(["nft", "-f", "-"], input=text, check=True)
        second = render([IDLE_LB], {})
        box.run(["nft", "-f", "-"], input=script(first, second), check=True)
        listed = box.run(["nft", "list", "table", "inet", "portico-lb-idle"], check=True).stdout
        for name, seconds in (("idle-4m", 240), ("idle-5m", 300), ("idle-30m", 1800)):
            assert f"ct timeout {name} {{" in listed, listed
            assert f'ct timeout set "{name}"' in listed, listed
            assert f"established : {seconds} }}" in listed, listed
        assert listed.count("ct state new ip daddr . tcp dport vmap @frontends") == 1, listed
        assert set(re.findall(r"(\S+) \. (\d+) : goto (idle-\d+m)", listed)) == {
            ("198.51.100.1", "80", "idle-5m"), ("198.51.100.1", "443", "idle-30m"),
            ("198.51.100.2", "53", "idle-5m")}, listed
        box.run(["nft", "-f", "-"], input=delete_script(), check=True)
        assert box.run(["nft", "list", "tables"], check=True).stdout == ""


@pytest.mark.skipif(not is_root(), reason="needs root for a throwaway netns")
def test_nft_accepts_the_rendered_ruleset() -> None:
    with Sandbox() as box:
        for text in (script(None, render([LB], UP)), script(None, render([], {}))):
            result = box.run(["nft", "-c", "-f", "-"], input=text)
            assert result.returncode == 0, result.stderr
        box.run(["nft", "-f", "-"], input=script(None, render([LB], UP)), check=True)
        update = script(render([LB], UP), render([LB], ONE_DOWN))
        box.run(["nft", "-f", "-"], input=update, check=True)
        listed = box.run(["nft", "list", "map", "inet", "portico-lb", "backends-a1-TCP-80"],
                         check=True).stdout
        assert "0x00010005" not in listed and "0x00010004" in listed
    assert subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                          check=True).stdout.count(box.name) == 0
