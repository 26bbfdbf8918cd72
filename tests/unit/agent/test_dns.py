"""kubelet's pod DNS configuration (pkg/kubelet/network/dns): policies, merge, limits."""

from __future__ import annotations

from typing import Any

import pytest

from portico.agent._dns import (
    ClusterDns,
    DnsConfig,
    merge_options,
    parse_resolv_conf,
    pod_dns,
    render,
)

CLUSTER = ClusterDns(("10.0.0.10",), "cluster.local")
NODE = DnsConfig(("168.63.129.16",), ("abc.internal.cloudapp.net",), ("timeout:2",))
OWN = ("ns.svc.cluster.local", "svc.cluster.local", "cluster.local")


def test_parse_resolv_conf_as_kubelet() -> None:
    text = ("# comment\nnameserver 1.1.1.1\nsearch old.example\nnameserver 8.8.8.8\n"
            "search a.example. b.example\noptions ndots:2\noptions rotate attempts:3\n"
            "nameserver\n")
    assert parse_resolv_conf(text) == DnsConfig(
        ("1.1.1.1", "8.8.8.8"), ("a.example", "b.example"), ("rotate", "attempts:3"))


@pytest.mark.parametrize(("spec", "expected"), [
    pytest.param({}, DnsConfig(("10.0.0.10",), (*OWN, "abc.internal.cloudapp.net"),
                               ("ndots:5",)), id="cluster-first-appends-node-searches"),
    pytest.param({"dnsPolicy": "Default"}, NODE, id="default-is-the-node"),
    pytest.param({"dnsPolicy": "None"}, DnsConfig(), id="none-is-empty"),
    pytest.param({"hostNetwork": True}, NODE, id="host-network-cluster-first-is-default"),
    pytest.param({"hostNetwork": True, "dnsPolicy": "ClusterFirstWithHostNet"},
                 DnsConfig(("10.0.0.10",), (*OWN, "abc.internal.cloudapp.net"),
                           ("ndots:5",)), id="cluster-first-with-host-net"),
    pytest.param({"dnsPolicy": "ClusterFirstWithHostNet"},
                 DnsConfig(("10.0.0.10",), (*OWN, "abc.internal.cloudapp.net"),
                           ("ndots:5",)), id="cluster-first-with-host-net-no-host-network"),
])
def test_policies(spec: dict[str, Any], expected: DnsConfig) -> None:
    assert pod_dns(spec, "ns", CLUSTER, NODE) == (expected, [])


def test_cluster_first_without_cluster_dns_falls_back_to_the_node() -> None:
    assert pod_dns({}, "ns", ClusterDns((), "cluster.local"), NODE) == (NODE, [])


def test_duplicated_node_search_is_dropped() -> None:
    node = DnsConfig((), ("cluster.local", "x.example"), ())
    config, _ = pod_dns({}, "ns", CLUSTER, node)
    assert config.searches == (*OWN, "x.example")


def test_dns_config_is_merged_into_the_base() -> None:
    spec = {"dnsConfig": {"nameservers": ["10.0.0.10", "192.0.2.1"],
                          "searches": ["cluster.local", "my.example"],
                          "options": [{"name": "timeout", "value": "1"},
                                      {"name": "ndots", "value": "1"},
                                      {"name": "edns0"}]}}
    config, warnings = pod_dns(spec, "ns", CLUSTER, DnsConfig())
    assert config == DnsConfig(("10.0.0.10", "192.0.2.1"), (*OWN, "my.example"),
                               ("ndots:1", "timeout:1", "edns0"))
    assert warnings == []


def test_merge_options_later_wins_and_a_value_can_be_dropped() -> None:
    assert merge_options(["ndots:5", "rotate"], [{"name": "rotate", "value": "x"},
                                                 {"name": "ndots"}]) == ("ndots", "rotate:x")


def test_nameserver_limit() -> None:
    spec = {"dnsConfig": {"nameservers": ["192.0.2.1", "192.0.2.2", "192.0.2.3"]}}
    config, warnings = pod_dns(spec, "ns", CLUSTER, DnsConfig())
    assert config.nameservers == ("10.0.0.10", "192.0.2.1", "192.0.2.2")
    assert warnings == ["Nameserver limits were exceeded, some nameservers have been "
                        "omitted, the applied nameserver line is: 10.0.0.10 192.0.2.1 "
                        "192.0.2.2"]


def test_search_count_limit() -> None:
    extra = [f"s{i}.example" for i in range(40)]
    config, warnings = pod_dns({"dnsConfig": {"searches": extra}}, "ns", CLUSTER, DnsConfig())
    assert config.searches == (*OWN, *extra[:29])
    assert warnings == ["Search Line limits were exceeded, some search paths have been "
                        f"omitted, the applied search line is: {' '.join(config.searches)}"]


def test_search_length_limits() -> None:
    too_long = "x" * 254
    long_ones = [f"{i:02d}" + "y" * 198 for i in range(12)]  # 200 characters each
    spec = {"dnsPolicy": "None", "dnsConfig": {"searches": [too_long, *long_ones]}}
    config, warnings = pod_dns(spec, "ns", CLUSTER, DnsConfig())
    assert config.searches == tuple(long_ones[:10])  # 10 * 200 + 9 spaces <= 2048
    assert len(warnings) == 1


def test_render_as_containerd_writes_it() -> None:
    assert render(DnsConfig(("10.0.0.10", "192.0.2.1"), ("a", "b"), ("ndots:5",))) == (
        "search a b\nnameserver 10.0.0.10\nnameserver 192.0.2.1\noptions ndots:5\n")
    assert render(DnsConfig(("192.0.2.1",))) == "nameserver 192.0.2.1\n"
    assert render(DnsConfig()) == ""
