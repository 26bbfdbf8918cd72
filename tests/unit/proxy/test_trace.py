"""Packet traces over the FakeNft ruleset: a row per semantic of kube-proxy's nftables mode."""

from __future__ import annotations

import pytest
from proxy_builders import NODE_IP, World, endpoint, endpoint_slice, port, service

from portico.proxy.nftables import Family

POD = "10.244.0.9"  # a pod on this node (node-1)
OUTSIDE = "203.0.113.7"  # a client outside the cluster
LB_IP = "198.51.100.10"


def _world() -> World:
    w = World()
    # ClusterIP, two endpoints (one here, one on node-2)
    w.apply_service(service("ns1", "web", "10.0.0.11", [port(80)]))
    w.apply_slice(endpoint_slice("ns1", "web", [endpoint("10.244.0.5", "node-1"),
                                                endpoint("10.244.1.5", "node-2")],
                                 [port(8080)]))
    # no endpoints at all
    w.apply_service(service("ns1", "empty", "10.0.0.12", [port(80, nodePort=30012)],
                            type="NodePort"))
    # NodePort, Cluster policy
    w.apply_service(service("ns1", "np", "10.0.0.13", [port(80, nodePort=30013)],
                            type="NodePort"))
    w.apply_slice(endpoint_slice("ns1", "np", [endpoint("10.244.1.6")], [port(8080)]))
    # LoadBalancer, Local policy, source ranges; local endpoint 10.244.0.7
    w.apply_service(service(
        "ns1", "lb", "10.0.0.14", [port(80, nodePort=30014)], type="LoadBalancer",
        externalTrafficPolicy="Local", healthCheckNodePort=32000,
        loadBalancerSourceRanges=["203.0.113.0/24"],
        status={"loadBalancer": {"ingress": [{"ip": LB_IP}]}}))
    w.apply_slice(endpoint_slice("ns1", "lb", [endpoint("10.244.0.7", "node-1"),
                                               endpoint("10.244.1.7", "node-2")], [port(8080)]))
    # LoadBalancer, Local policy, no endpoint on this node
    w.apply_service(service(
        "ns1", "lbremote", "10.0.0.15", [port(80, nodePort=30015)], type="LoadBalancer",
        externalTrafficPolicy="Local",
        status={"loadBalancer": {"ingress": [{"ip": "198.51.100.11"}]}}))
    w.apply_slice(endpoint_slice("ns1", "lbremote", [endpoint("10.244.1.8")], [port(8080)]))
    # internalTrafficPolicy Local: one with a local endpoint, one without
    w.apply_service(service("ns1", "itp", "10.0.0.16", [port(80)], internalTrafficPolicy="Local"))
    w.apply_slice(endpoint_slice("ns1", "itp", [endpoint("10.244.0.8", "node-1"),
                                                endpoint("10.244.1.9")], [port(8080)]))
    w.apply_service(service("ns1", "itpnone", "10.0.0.17", [port(80)],
                            internalTrafficPolicy="Local"))
    w.apply_slice(endpoint_slice("ns1", "itpnone", [endpoint("10.244.1.10")], [port(8080)]))
    # only terminating endpoints: serving+terminating is used; not-serving is not
    w.apply_service(service("ns1", "term", "10.0.0.18", [port(80)]))
    w.apply_slice(endpoint_slice("ns1", "term", [
        endpoint("10.244.1.11", ready=False, serving=True, terminating=True),
        endpoint("10.244.1.12", ready=False, serving=False, terminating=True)], [port(8080)]))
    # ready beats terminating
    w.apply_service(service("ns1", "mixed", "10.0.0.19", [port(80)]))
    w.apply_slice(endpoint_slice("ns1", "mixed", [
        endpoint("10.244.1.13"),
        endpoint("10.244.1.14", ready=False, serving=True, terminating=True)], [port(8080)]))
    # UDP, externalIPs
    w.apply_service(service("ns1", "dns", "10.0.0.20", [port(53, "dns", "UDP")],
                            externalIPs=["192.0.2.20"]))
    w.apply_slice(endpoint_slice("ns1", "dns", [endpoint("10.244.0.15", "node-1")],
                                 [port(5353, "dns", "UDP")]))
    # headless and ExternalName: no rules
    w.apply_service(service("ns1", "headless", "None", [port(80)]))
    w.apply_slice(endpoint_slice("ns1", "headless", [endpoint("10.244.1.16")], [port(8080)]))
    w.apply_service(service("ns1", "extname", "", [port(80)], type="ExternalName",
                            externalName="example.com"))
    w.sync()
    return w


CASES = [
    pytest.param(POD, "10.0.0.11", 80, "tcp", "10.244.0.5:8080, 10.244.1.5:8080", False,
                 id="pod to ClusterIP spreads over all endpoints"),
    pytest.param(OUTSIDE, "10.0.0.11", 80, "tcp", "10.244.0.5:8080, 10.244.1.5:8080", True,
                 id="off-cluster source to ClusterIP is masqueraded"),
    pytest.param(NODE_IP, "10.0.0.11", 80, "tcp", "10.244.0.5:8080, 10.244.1.5:8080", True,
                 id="node to ClusterIP is masqueraded"),
    pytest.param(POD, "10.0.0.11", 81, "tcp", "REJECT", False,
                 id="unused port of a ClusterIP is rejected"),
    pytest.param(POD, "10.0.0.99", 80, "tcp", "DROP", False,
                 id="unallocated ClusterIP is dropped"),
    pytest.param(POD, "10.0.0.12", 80, "tcp", "REJECT", False,
                 id="no endpoints: ClusterIP rejected at once"),
    pytest.param(OUTSIDE, NODE_IP, 30012, "tcp", "REJECT", False,
                 id="no endpoints: NodePort rejected at once"),
    pytest.param(OUTSIDE, NODE_IP, 30013, "tcp", "10.244.1.6:8080", True,
                 id="NodePort with Cluster policy is masqueraded"),
    pytest.param(OUTSIDE, "127.0.0.1", 30013, "tcp", "DROP", False,
                 id="no NodePorts on localhost; outside traffic to it dropped"),
    pytest.param(OUTSIDE, "127.0.0.1", 10249, "tcp", "DROP", False,
                 id="the node's loopback is not reachable from outside"),
    pytest.param("127.0.0.1", "127.0.0.1", 10249, "tcp", "ACCEPT", False,
                 id="the node reaches its own loopback"),
    pytest.param(OUTSIDE, "10.224.0.99", 30013, "tcp", "ACCEPT", False,
                 id="NodePort only on this node's addresses"),
    pytest.param(OUTSIDE, LB_IP, 80, "tcp", "10.244.0.7:8080", False,
                 id="LB IP with Local policy keeps the client IP, local endpoint only"),
    pytest.param(OUTSIDE, NODE_IP, 30014, "tcp", "10.244.0.7:8080", False,
                 id="NodePort with Local policy keeps the client IP"),
    pytest.param("192.0.2.1", LB_IP, 80, "tcp", "DROP", False,
                 id="loadBalancerSourceRanges drops other sources"),
    pytest.param(POD, LB_IP, 80, "tcp", "DROP", False,
                 id="source ranges apply to pods too"),
    pytest.param(OUTSIDE, "10.0.0.14", 80, "tcp", "10.244.0.7:8080, 10.244.1.7:8080", True,
                 id="Local LB service's ClusterIP uses all endpoints"),
    pytest.param(OUTSIDE, "198.51.100.11", 80, "tcp", "DROP", False,
                 id="Local policy without local endpoints drops external traffic"),
    pytest.param(POD, "198.51.100.11", 80, "tcp", "10.244.1.8:8080", False,
                 id="pod to Local LB IP short-circuits to cluster endpoints"),
    pytest.param(NODE_IP, LB_IP, 80, "tcp", "DROP", False,
                 id="source ranges apply to the node itself"),
    pytest.param(NODE_IP, NODE_IP, 30014, "tcp", "10.244.0.7:8080, 10.244.1.7:8080", True,
                 id="node to its Local NodePort short-circuits to cluster endpoints, masqueraded"),
    pytest.param(NODE_IP, "198.51.100.11", 80, "tcp", "DROP", False,
                 id="node to Local LB IP without local endpoints: filter-output drops pre-DNAT"),
    pytest.param(POD, "10.0.0.16", 80, "tcp", "10.244.0.8:8080", False,
                 id="internalTrafficPolicy Local uses only local endpoints"),
    pytest.param(POD, "10.0.0.17", 80, "tcp", "DROP", False,
                 id="internalTrafficPolicy Local without local endpoints drops"),
    pytest.param(POD, "10.0.0.18", 80, "tcp", "10.244.1.11:8080", False,
                 id="no ready endpoints: serving terminating ones are used"),
    pytest.param(POD, "10.0.0.19", 80, "tcp", "10.244.1.13:8080", False,
                 id="ready endpoints win over terminating ones"),
    pytest.param(POD, "10.0.0.20", 53, "udp", "10.244.0.15:5353", False,
                 id="UDP ClusterIP"),
    pytest.param(POD, "10.0.0.20", 53, "tcp", "REJECT", False,
                 id="TCP to a UDP-only ClusterIP port is rejected"),
    pytest.param(OUTSIDE, "192.0.2.20", 53, "udp", "10.244.0.15:5353", True,
                 id="externalIP with Cluster policy is masqueraded"),
    pytest.param("10.244.0.15", "10.0.0.20", 53, "udp", "10.244.0.15:5353", True,
                 id="hairpin: an endpoint reaching itself is masqueraded"),
    pytest.param("10.244.0.9", "10.0.0.20", 53, "udp", "10.244.0.15:5353", False,
                 id="another local pod to the same endpoint is not masqueraded"),
    pytest.param(OUTSIDE, "192.0.2.20", 53, "tcp", "ACCEPT", False,
                 id="externalIP on an unserved protocol is left alone"),
    pytest.param(OUTSIDE, NODE_IP, 30015, "tcp", "DROP", False,
                 id="Local NodePort without local endpoints drops"),
    pytest.param(POD, NODE_IP, 30015, "tcp", "10.244.1.8:8080", False,
                 id="pod to Local NodePort without local endpoints short-circuits"),
    pytest.param("203.0.113.99", LB_IP, 80, "tcp", "10.244.0.7:8080", False,
                 id="loadBalancerSourceRanges admit the range"),
    pytest.param(OUTSIDE, "10.0.0.16", 80, "tcp", "10.244.0.8:8080", True,
                 id="internalTrafficPolicy Local off-cluster source is masqueraded"),
    pytest.param(POD, "10.0.0.21", 80, "tcp", "DROP", False,
                 id="headless (no ClusterIP in the service CIDR) gets no rules"),
]


@pytest.mark.parametrize(("src", "dst", "dport", "proto", "output", "masq"), CASES)
def test_trace(src: str, dst: str, dport: int, proto: str, output: str, masq: bool) -> None:
    result = _world().tracer().trace(src, dst, dport, proto)
    assert (result.output, result.masquerade) == (output, masq)


def test_client_ip_affinity_sticks_to_the_remembered_slot() -> None:
    w = World()
    w.apply_service(service("ns1", "sticky", "10.0.0.30", [port(80)],
                            sessionAffinity="ClientIP",
                            sessionAffinityConfig={"clientIP": {"timeoutSeconds": 60}}))
    w.apply_slice(endpoint_slice("ns1", "sticky", [endpoint("10.244.1.5"),
                                                   endpoint("10.244.1.6")], [port(8080)]))
    w.sync()
    tracer = w.tracer()
    key = (POD, "10.0.0.30", "tcp", "80")
    assert tracer.trace(POD, "10.0.0.30", 80).output == "10.244.1.5:8080, 10.244.1.6:8080"
    # the tracer explored both slots and recorded one of them, as the kernel does
    assert tracer.dynamic["affinity"][key] in {("0",), ("1",)}
    tracer.dynamic["affinity"][key] = ("1",)
    assert tracer.trace(POD, "10.0.0.30", 80).output == "10.244.1.6:8080"
    assert tracer.dynamic["affinity"][key] == ("1",)
    assert tracer.trace("10.244.0.10", "10.0.0.30", 80).output == \
        "10.244.1.5:8080, 10.244.1.6:8080"
    # a remembered slot beyond a shrunk Service is picked again at random
    tracer.dynamic["affinity"][key] = ("7",)
    assert tracer.trace(POD, "10.0.0.30", 80).output == "10.244.1.5:8080, 10.244.1.6:8080"
    rules = w.nft.table(*_inet()).rules["pick-2-affinity-60"]
    assert [r.rule for r in rules][3] == \
        "update @affinity { ip saddr . ip daddr . meta l4proto . th dport timeout 60s : ct mark }"


def test_affinity_survives_scaling_up() -> None:
    """Slots are stable: a new endpoint takes a new slot; remembered slots keep their endpoint."""
    w = World()
    sticky = service("ns1", "sticky", "10.0.0.30", [port(80)], sessionAffinity="ClientIP")
    w.apply_service(sticky)
    w.apply_slice(endpoint_slice("ns1", "sticky", [endpoint("10.244.1.5"),
                                                   endpoint("10.244.1.6")], [port(8080)]))
    w.sync()
    tracer = w.tracer()
    tracer.dynamic["affinity"] = {(POD, "10.0.0.30", "tcp", "80"): ("1",)}
    w.apply_slice(endpoint_slice("ns1", "sticky", [endpoint("10.244.1.4"), endpoint("10.244.1.5"),
                                                   endpoint("10.244.1.6")], [port(8080)]))
    w.sync()
    assert tracer.trace(POD, "10.0.0.30", 80).output == "10.244.1.6:8080"
    assert tracer.trace("10.244.0.10", "10.0.0.30", 80).output == \
        "10.244.1.4:8080, 10.244.1.5:8080, 10.244.1.6:8080"


def _inet() -> tuple[Family, str]:
    return (Family.INET, "portico-proxy")
