# ruff: noqa: E501 - golden nft lines are as long as nft writes them
"""Golden test: the full ruleset for a set of services, as FakeNft.dump() prints it.

The layout of `portico.proxy.layout`: fixed chains and maps, shared pick chains
(pick-1, pick-2, pick-local-1, and the affinity/masquerade variants in use), and
every Service as elements: a ClusterIP (svc1), a NodePort with ClientIP affinity
(svc2), a port without endpoints (svc3), and an externalTrafficPolicy Local
LoadBalancer with source ranges (svc4; the two /25s merge into one /24).
"""

from __future__ import annotations

import textwrap

from proxy_builders import World, endpoint, endpoint_slice, port, service

EXPECTED = textwrap.dedent("""\
        add table inet portico-proxy { comment "rules for portico-proxy" ; }
        add chain inet portico-proxy cluster-ips-check
        add chain inet portico-proxy external-local
        add chain inet portico-proxy filter-input { type filter hook input priority -110 ; }
        add chain inet portico-proxy filter-output { type filter hook output priority -110 ; }
        add chain inet portico-proxy filter-output-post-dnat { type filter hook output priority -90 ; }
        add chain inet portico-proxy firewall-check
        add chain inet portico-proxy mark-for-masquerade
        add chain inet portico-proxy masquerading
        add chain inet portico-proxy nat-output { type nat hook output priority -100 ; }
        add chain inet portico-proxy nat-postrouting { type nat hook postrouting priority srcnat ; }
        add chain inet portico-proxy nat-prerouting { type nat hook prerouting priority dstnat ; }
        add chain inet portico-proxy nodeport-endpoints-check
        add chain inet portico-proxy pick-1
        add chain inet portico-proxy pick-1-affinity-10800
        add chain inet portico-proxy pick-1-masq-affinity-10800
        add chain inet portico-proxy pick-2
        add chain inet portico-proxy pick-local-1
        add chain inet portico-proxy reject-chain { comment "helper for @no-endpoint-services / @no-endpoint-nodeports" ; }
        add chain inet portico-proxy service-endpoints-check
        add chain inet portico-proxy services
        add set inet portico-proxy cluster-ips { type ipv4_addr ; comment "Active ClusterIPs" ; }
        add set inet portico-proxy firewall-allow { type ipv4_addr . inet_proto . inet_service . ipv4_addr ; flags interval ; comment "destination . allowed source range" ; }
        add set inet portico-proxy firewall-ips { type ipv4_addr . inet_proto . inet_service ; comment "destinations that are subject to LoadBalancerSourceRanges" ; }
        add set inet portico-proxy hairpin { type ipv4_addr . ipv4_addr ; comment "local endpoint . itself: hairpin traffic to masquerade" ; }
        add map inet portico-proxy affinity { type ipv4_addr . ipv4_addr . inet_proto . inet_service : mark ; flags dynamic,timeout ; timeout 10800s ; comment "ClientIP session affinity: client -> slot" ; }
        add map inet portico-proxy backends { type ipv4_addr . inet_proto . inet_service . mark : ipv4_addr . inet_service ; comment "service address . proto . port . slot -> endpoint" ; }
        add map inet portico-proxy external-cluster-picks { type ipv4_addr . inet_proto . inet_service : verdict ; comment "externalTrafficPolicy Local: pick for pods and the node" ; }
        add map inet portico-proxy external-local-picks { type ipv4_addr . inet_proto . inet_service : verdict ; comment "externalTrafficPolicy Local: pick among local endpoints" ; }
        add map inet portico-proxy no-endpoint-nodeports { type ipv4_addr . inet_proto . inet_service : verdict ; comment "vmap to drop or reject packets to service nodeports with no endpoints" ; }
        add map inet portico-proxy no-endpoint-services { type ipv4_addr . inet_proto . inet_service : verdict ; comment "vmap to drop or reject packets to services with no endpoints" ; }
        add map inet portico-proxy service-ips { type ipv4_addr . inet_proto . inet_service : verdict ; comment "ClusterIP, ExternalIP and LoadBalancer IP traffic" ; }
        add map inet portico-proxy service-nodeports { type ipv4_addr . inet_proto . inet_service : verdict ; comment "NodePort traffic (node IP . proto . port)" ; }
        add rule inet portico-proxy cluster-ips-check ip daddr @cluster-ips reject comment "Reject traffic to invalid ports of ClusterIPs"
        add rule inet portico-proxy cluster-ips-check ip daddr 10.0.0.0/16 drop comment "Drop traffic to unallocated ClusterIPs"
        add rule inet portico-proxy external-local ip saddr 10.244.0.0/16 ip daddr . meta l4proto . th dport vmap @external-cluster-picks
        add rule inet portico-proxy external-local fib saddr type local jump mark-for-masquerade
        add rule inet portico-proxy external-local fib saddr type local ip daddr . meta l4proto . th dport vmap @external-cluster-picks
        add rule inet portico-proxy external-local ip daddr . meta l4proto . th dport vmap @external-local-picks
        add rule inet portico-proxy filter-input ct state new jump nodeport-endpoints-check
        add rule inet portico-proxy filter-input ip daddr 127.0.0.0/8 ip saddr != 127.0.0.0/8 ct state ! established,related ct status ! dnat drop comment "block incoming localnet connections"
        add rule inet portico-proxy filter-output ct state new jump service-endpoints-check
        add rule inet portico-proxy filter-output-post-dnat ct state new jump cluster-ips-check
        add rule inet portico-proxy filter-output-post-dnat ip daddr 127.0.0.0/8 ip saddr != 127.0.0.0/8 ct state ! established,related ct status ! dnat drop comment "block incoming localnet connections"
        add rule inet portico-proxy firewall-check ip daddr . meta l4proto . th dport @firewall-ips ip daddr . meta l4proto . th dport . ip saddr != @firewall-allow drop
        add rule inet portico-proxy mark-for-masquerade meta mark set meta mark | 0x4000
        add rule inet portico-proxy masquerading ct status dnat ip saddr . ip daddr @hairpin jump mark-for-masquerade
        add rule inet portico-proxy masquerading meta mark & 0x4000 == 0 return
        add rule inet portico-proxy masquerading meta mark set meta mark ^ 0x4000
        add rule inet portico-proxy masquerading masquerade fully-random
        add rule inet portico-proxy nat-output jump firewall-check
        add rule inet portico-proxy nat-output jump services
        add rule inet portico-proxy nat-postrouting jump masquerading
        add rule inet portico-proxy nat-prerouting jump firewall-check
        add rule inet portico-proxy nat-prerouting jump services
        add rule inet portico-proxy nat-prerouting jump service-endpoints-check
        add rule inet portico-proxy nat-prerouting jump cluster-ips-check
        add rule inet portico-proxy nodeport-endpoints-check ip daddr . meta l4proto . th dport vmap @no-endpoint-nodeports
        add rule inet portico-proxy pick-1 ct mark set numgen random mod 1
        add rule inet portico-proxy pick-1 dnat ip to ip daddr . meta l4proto . th dport . ct mark map @backends
        add rule inet portico-proxy pick-1-affinity-10800 ct mark set numgen random mod 1
        add rule inet portico-proxy pick-1-affinity-10800 ct mark set ip saddr . ip daddr . meta l4proto . th dport map @affinity
        add rule inet portico-proxy pick-1-affinity-10800 ct mark != 0 ct mark set numgen random mod 1
        add rule inet portico-proxy pick-1-affinity-10800 update @affinity { ip saddr . ip daddr . meta l4proto . th dport timeout 10800s : ct mark }
        add rule inet portico-proxy pick-1-affinity-10800 dnat ip to ip daddr . meta l4proto . th dport . ct mark map @backends
        add rule inet portico-proxy pick-1-masq-affinity-10800 jump mark-for-masquerade
        add rule inet portico-proxy pick-1-masq-affinity-10800 goto pick-1-affinity-10800
        add rule inet portico-proxy pick-2 ct mark set numgen random mod 2
        add rule inet portico-proxy pick-2 dnat ip to ip daddr . meta l4proto . th dport . ct mark map @backends
        add rule inet portico-proxy pick-local-1 ct mark set numgen random mod 1 offset 1048576
        add rule inet portico-proxy pick-local-1 dnat ip to ip daddr . meta l4proto . th dport . ct mark map @backends
        add rule inet portico-proxy reject-chain reject
        add rule inet portico-proxy service-endpoints-check ip daddr . meta l4proto . th dport vmap @no-endpoint-services
        add rule inet portico-proxy services ip daddr @cluster-ips ip saddr != 10.244.0.0/16 jump mark-for-masquerade
        add rule inet portico-proxy services ip daddr . meta l4proto . th dport vmap @service-ips
        add rule inet portico-proxy services ip daddr . meta l4proto . th dport vmap @service-nodeports
        add element inet portico-proxy backends { 10.0.0.41 . tcp . 80 . 0 : 10.244.1.5 . 8080 }
        add element inet portico-proxy backends { 10.0.0.42 . tcp . 80 . 0 : 10.244.0.6 . 8080 }
        add element inet portico-proxy backends { 10.0.0.44 . tcp . 80 . 0 : 10.244.0.7 . 8080 }
        add element inet portico-proxy backends { 10.0.0.44 . tcp . 80 . 1 : 10.244.1.7 . 8080 }
        add element inet portico-proxy backends { 10.224.0.4 . tcp . 30042 . 0 : 10.244.0.6 . 8080 }
        add element inet portico-proxy backends { 10.224.0.4 . tcp . 30044 . 0 : 10.244.0.7 . 8080 }
        add element inet portico-proxy backends { 10.224.0.4 . tcp . 30044 . 1 : 10.244.1.7 . 8080 }
        add element inet portico-proxy backends { 10.224.0.4 . tcp . 30044 . 1048576 : 10.244.0.7 . 8080 }
        add element inet portico-proxy backends { 198.51.100.44 . tcp . 80 . 0 : 10.244.0.7 . 8080 }
        add element inet portico-proxy backends { 198.51.100.44 . tcp . 80 . 1 : 10.244.1.7 . 8080 }
        add element inet portico-proxy backends { 198.51.100.44 . tcp . 80 . 1048576 : 10.244.0.7 . 8080 }
        add element inet portico-proxy cluster-ips { 10.0.0.41 }
        add element inet portico-proxy cluster-ips { 10.0.0.42 }
        add element inet portico-proxy cluster-ips { 10.0.0.43 }
        add element inet portico-proxy cluster-ips { 10.0.0.44 }
        add element inet portico-proxy external-cluster-picks { 10.224.0.4 . tcp . 30044 comment "ns4/svc4:p80" : goto pick-2 }
        add element inet portico-proxy external-cluster-picks { 198.51.100.44 . tcp . 80 comment "ns4/svc4:p80" : goto pick-2 }
        add element inet portico-proxy external-local-picks { 10.224.0.4 . tcp . 30044 comment "ns4/svc4:p80" : goto pick-local-1 }
        add element inet portico-proxy external-local-picks { 198.51.100.44 . tcp . 80 comment "ns4/svc4:p80" : goto pick-local-1 }
        add element inet portico-proxy firewall-allow { 198.51.100.44 . tcp . 80 . 192.0.2.0/24 }
        add element inet portico-proxy firewall-allow { 198.51.100.44 . tcp . 80 . 203.0.113.0/24 }
        add element inet portico-proxy firewall-ips { 198.51.100.44 . tcp . 80 comment "ns4/svc4:p80" }
        add element inet portico-proxy hairpin { 10.244.0.6 . 10.244.0.6 }
        add element inet portico-proxy hairpin { 10.244.0.7 . 10.244.0.7 }
        add element inet portico-proxy no-endpoint-services { 10.0.0.43 . udp . 53 comment "ns3/svc3:dns" : goto reject-chain }
        add element inet portico-proxy service-ips { 10.0.0.41 . tcp . 80 comment "ns1/svc1:p80" : goto pick-1 }
        add element inet portico-proxy service-ips { 10.0.0.42 . tcp . 80 comment "ns2/svc2:p80" : goto pick-1-affinity-10800 }
        add element inet portico-proxy service-ips { 10.0.0.44 . tcp . 80 comment "ns4/svc4:p80" : goto pick-2 }
        add element inet portico-proxy service-ips { 198.51.100.44 . tcp . 80 comment "ns4/svc4:p80" : goto external-local }
        add element inet portico-proxy service-nodeports { 10.224.0.4 . tcp . 30042 comment "ns2/svc2:p80" : goto pick-1-masq-affinity-10800 }
        add element inet portico-proxy service-nodeports { 10.224.0.4 . tcp . 30044 comment "ns4/svc4:p80" : goto external-local }
""")


def golden_world() -> World:
    w = World()
    w.apply_service(service("ns1", "svc1", "10.0.0.41", [port(80)]))
    w.apply_slice(endpoint_slice("ns1", "svc1", [endpoint("10.244.1.5")], [port(8080)]))
    w.apply_service(service("ns2", "svc2", "10.0.0.42", [port(80, nodePort=30042)],
                            type="NodePort", sessionAffinity="ClientIP"))
    w.apply_slice(endpoint_slice("ns2", "svc2", [endpoint("10.244.0.6", "node-1")],
                                 [port(8080)]))
    w.apply_service(service("ns3", "svc3", "10.0.0.43", [port(53, "dns", "UDP")]))
    w.apply_service(service(
        "ns4", "svc4", "10.0.0.44", [port(80, nodePort=30044)], type="LoadBalancer",
        externalTrafficPolicy="Local", healthCheckNodePort=32044,
        loadBalancerSourceRanges=["203.0.113.0/25", "203.0.113.128/25", "192.0.2.0/24"],
        status={"loadBalancer": {"ingress": [{"ip": "198.51.100.44"}]}}))
    w.apply_slice(endpoint_slice("ns4", "svc4", [endpoint("10.244.0.7", "node-1"),
                                                 endpoint("10.244.1.7", "node-2")], [port(8080)]))
    return w


def test_full_ruleset() -> None:
    w = golden_world()
    w.sync()
    assert w.nft.dump() == EXPECTED


def test_resync_without_changes_emits_nothing() -> None:
    w = golden_world()
    w.sync()
    plan = w.sync()
    assert plan.tx.script() == ""
    assert w.nft.dump() == EXPECTED


def test_forced_full_sync_rebuilds_the_same_table() -> None:
    w = golden_world()
    w.sync()
    w.state.failed()
    plan = w.sync()
    assert plan.full
    assert plan.tx.script().startswith("add table inet portico-proxy\ndelete table inet portico-proxy\n")
    assert w.nft.dump() == EXPECTED
