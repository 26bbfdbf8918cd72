# ruff: noqa: E501 - golden nft lines are as long as nft writes them
"""Golden test: the full ruleset for a set of services, as FakeNft.dump() prints it.

The chain names match kube-proxy's own golden tests (service-ULMVA6XW-ns1/svc1/tcp/p80,
service-42NFTM6N-ns2/svc2/tcp/p80): same hash, same readable suffix.
"""

from __future__ import annotations

import textwrap

from proxy_builders import World, endpoint, endpoint_slice, port, service

EXPECTED = textwrap.dedent("""\
        add table inet portico-proxy { comment "rules for portico-proxy" ; }
        add chain inet portico-proxy cluster-ips-check
        add chain inet portico-proxy endpoint-7LPLO23Z-ns2/svc2/tcp/p80__10.244.0.6/8080
        add chain inet portico-proxy endpoint-TNFFH6U2-ns1/svc1/tcp/p80__10.244.1.5/8080
        add chain inet portico-proxy external-42NFTM6N-ns2/svc2/tcp/p80
        add chain inet portico-proxy filter-forward { type filter hook forward priority -110 ; }
        add chain inet portico-proxy filter-input { type filter hook input priority -110 ; }
        add chain inet portico-proxy filter-output { type filter hook output priority -110 ; }
        add chain inet portico-proxy filter-output-post-dnat { type filter hook output priority -90 ; }
        add chain inet portico-proxy filter-prerouting { type filter hook prerouting priority dstnat - 10 ; }
        add chain inet portico-proxy firewall-check
        add chain inet portico-proxy mark-for-masquerade
        add chain inet portico-proxy masquerading
        add chain inet portico-proxy nat-output { type nat hook output priority -100 ; }
        add chain inet portico-proxy nat-postrouting { type nat hook postrouting priority srcnat ; }
        add chain inet portico-proxy nat-prerouting { type nat hook prerouting priority dstnat ; }
        add chain inet portico-proxy nodeport-endpoints-check
        add chain inet portico-proxy reject-chain { comment "helper for @no-endpoint-services / @no-endpoint-nodeports" ; }
        add chain inet portico-proxy service-42NFTM6N-ns2/svc2/tcp/p80
        add chain inet portico-proxy service-ULMVA6XW-ns1/svc1/tcp/p80
        add chain inet portico-proxy service-endpoints-check
        add chain inet portico-proxy services
        add set inet portico-proxy affinity-7LPLO23Z-ns2/svc2/tcp/p80__10.244.0.6/8080 { type ipv4_addr ; flags dynamic,timeout ; timeout 10800s ; }
        add set inet portico-proxy cluster-ips { type ipv4_addr ; comment "Active ClusterIPs" ; }
        add map inet portico-proxy firewall-ips { type ipv4_addr . inet_proto . inet_service : verdict ; comment "destinations that are subject to LoadBalancerSourceRanges" ; }
        add map inet portico-proxy no-endpoint-nodeports { type inet_proto . inet_service : verdict ; comment "vmap to drop or reject packets to service nodeports with no endpoints" ; }
        add map inet portico-proxy no-endpoint-services { type ipv4_addr . inet_proto . inet_service : verdict ; comment "vmap to drop or reject packets to services with no endpoints" ; }
        add map inet portico-proxy service-ips { type ipv4_addr . inet_proto . inet_service : verdict ; comment "ClusterIP, ExternalIP and LoadBalancer IP traffic" ; }
        add map inet portico-proxy service-nodeports { type inet_proto . inet_service : verdict ; comment "NodePort traffic" ; }
        add rule inet portico-proxy cluster-ips-check ip daddr @cluster-ips reject comment "Reject traffic to invalid ports of ClusterIPs"
        add rule inet portico-proxy cluster-ips-check ip daddr 10.0.0.0/16 drop comment "Drop traffic to unallocated ClusterIPs"
        add rule inet portico-proxy endpoint-7LPLO23Z-ns2/svc2/tcp/p80__10.244.0.6/8080 ip saddr 10.244.0.6 jump mark-for-masquerade
        add rule inet portico-proxy endpoint-7LPLO23Z-ns2/svc2/tcp/p80__10.244.0.6/8080 update @affinity-7LPLO23Z-ns2/svc2/tcp/p80__10.244.0.6/8080 { ip saddr }
        add rule inet portico-proxy endpoint-7LPLO23Z-ns2/svc2/tcp/p80__10.244.0.6/8080 meta l4proto tcp dnat ip to 10.244.0.6:8080
        add rule inet portico-proxy endpoint-TNFFH6U2-ns1/svc1/tcp/p80__10.244.1.5/8080 ip saddr 10.244.1.5 jump mark-for-masquerade
        add rule inet portico-proxy endpoint-TNFFH6U2-ns1/svc1/tcp/p80__10.244.1.5/8080 meta l4proto tcp dnat ip to 10.244.1.5:8080
        add rule inet portico-proxy external-42NFTM6N-ns2/svc2/tcp/p80 jump mark-for-masquerade
        add rule inet portico-proxy external-42NFTM6N-ns2/svc2/tcp/p80 goto service-42NFTM6N-ns2/svc2/tcp/p80
        add rule inet portico-proxy filter-forward ct state new jump service-endpoints-check
        add rule inet portico-proxy filter-forward ct state new jump cluster-ips-check
        add rule inet portico-proxy filter-input ct state new jump nodeport-endpoints-check
        add rule inet portico-proxy filter-input ct state new jump service-endpoints-check
        add rule inet portico-proxy filter-output ct state new jump service-endpoints-check
        add rule inet portico-proxy filter-output ct state new jump firewall-check
        add rule inet portico-proxy filter-output-post-dnat ct state new jump cluster-ips-check
        add rule inet portico-proxy filter-prerouting ct state new jump firewall-check
        add rule inet portico-proxy firewall-check ip daddr . meta l4proto . th dport vmap @firewall-ips
        add rule inet portico-proxy mark-for-masquerade meta mark set meta mark | 0x4000
        add rule inet portico-proxy masquerading meta mark & 0x4000 == 0 return
        add rule inet portico-proxy masquerading meta mark set meta mark ^ 0x4000
        add rule inet portico-proxy masquerading masquerade fully-random
        add rule inet portico-proxy nat-output jump services
        add rule inet portico-proxy nat-postrouting jump masquerading
        add rule inet portico-proxy nat-prerouting jump services
        add rule inet portico-proxy nodeport-endpoints-check fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @no-endpoint-nodeports
        add rule inet portico-proxy reject-chain reject
        add rule inet portico-proxy service-42NFTM6N-ns2/svc2/tcp/p80 ip daddr 10.0.0.42 tcp dport 80 ip saddr != 10.244.0.0/16 jump mark-for-masquerade
        add rule inet portico-proxy service-42NFTM6N-ns2/svc2/tcp/p80 ip saddr @affinity-7LPLO23Z-ns2/svc2/tcp/p80__10.244.0.6/8080 goto endpoint-7LPLO23Z-ns2/svc2/tcp/p80__10.244.0.6/8080
        add rule inet portico-proxy service-42NFTM6N-ns2/svc2/tcp/p80 numgen random mod 1 vmap { 0 : goto endpoint-7LPLO23Z-ns2/svc2/tcp/p80__10.244.0.6/8080 }
        add rule inet portico-proxy service-ULMVA6XW-ns1/svc1/tcp/p80 ip daddr 10.0.0.41 tcp dport 80 ip saddr != 10.244.0.0/16 jump mark-for-masquerade
        add rule inet portico-proxy service-ULMVA6XW-ns1/svc1/tcp/p80 numgen random mod 1 vmap { 0 : goto endpoint-TNFFH6U2-ns1/svc1/tcp/p80__10.244.1.5/8080 }
        add rule inet portico-proxy service-endpoints-check ip daddr . meta l4proto . th dport vmap @no-endpoint-services
        add rule inet portico-proxy services ip daddr . meta l4proto . th dport vmap @service-ips
        add rule inet portico-proxy services fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @service-nodeports
        add element inet portico-proxy cluster-ips { 10.0.0.41 }
        add element inet portico-proxy cluster-ips { 10.0.0.42 }
        add element inet portico-proxy cluster-ips { 10.0.0.43 }
        add element inet portico-proxy no-endpoint-services { 10.0.0.43 . udp . 53 comment "ns3/svc3:dns" : goto reject-chain }
        add element inet portico-proxy service-ips { 10.0.0.41 . tcp . 80 : goto service-ULMVA6XW-ns1/svc1/tcp/p80 }
        add element inet portico-proxy service-ips { 10.0.0.42 . tcp . 80 : goto service-42NFTM6N-ns2/svc2/tcp/p80 }
        add element inet portico-proxy service-nodeports { tcp . 30042 : goto external-42NFTM6N-ns2/svc2/tcp/p80 }
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
