"""The planner: Services + Nodes -> named frontends, pool, rules, probes; cleanup."""

from __future__ import annotations

from typing import Any

from portico.cloud.lb.build import LbConfig, plan
from portico.cloud.lb.model import (
    CLEANUP_FINALIZER,
    BackendMember,
    LoadBalancerType,
    LoadBalancingRule,
    LoadDistribution,
    NodeInfo,
    Probe,
    ProbeProtocol,
    TransportProtocol,
    frontend_name,
    parse_node,
    parse_service,
)

UID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
NODES = [NodeInfo("node-2", "10.224.0.5"), NodeInfo("node-1", "10.224.0.4"),
         NodeInfo("node-3", "10.224.0.6", ready=False),
         NodeInfo("node-4", "10.224.0.7", excluded=True)]


def svc(name: str = "web", uid: str = UID, created: str = "2024-01-01T00:00:00Z",
        annotations: dict[str, str] | None = None, meta: dict[str, Any] | None = None,
        **spec: Any) -> Any:
    body: dict[str, Any] = {"type": "LoadBalancer", "ports": [
        {"port": 80, "nodePort": 30080, "protocol": "TCP"},
        {"port": 53, "nodePort": 30053, "protocol": "UDP"}]}
    body.update(spec)
    return parse_service({"metadata": {"namespace": "default", "name": name, "uid": uid,
                                       "creationTimestamp": created,
                                       "annotations": annotations or {}, **(meta or {})},
                          "spec": body})


def test_frontend_name_is_aks_default_load_balancer_name() -> None:
    assert frontend_name(UID) == "a0f1e2d3c4b5a69788796a5b4c3d2e1f"
    assert len(frontend_name(UID)) == 32


def test_public_load_balancer() -> None:
    result = plan([svc(sessionAffinity="ClientIP")], NODES, LbConfig("aks"))
    lb = result.load_balancers[LoadBalancerType.PUBLIC]
    fe = "a0f1e2d3c4b5a69788796a5b4c3d2e1f"
    assert lb.name == "aks"
    assert [(f.name, f.ip, f.service) for f in lb.frontend_ip_configurations] == [
        (fe, "198.51.100.1", "default/web")]
    assert lb.backend_address_pool.members == (BackendMember("node-1", "10.224.0.4"),
                                               BackendMember("node-2", "10.224.0.5"))
    assert lb.load_balancing_rules == (
        LoadBalancingRule(f"{fe}-TCP-80", fe, "198.51.100.1", TransportProtocol.TCP, 80, 80,
                          True, 4, LoadDistribution.SOURCE_IP, f"{fe}-TCP-80"),
        LoadBalancingRule(f"{fe}-UDP-53", fe, "198.51.100.1", TransportProtocol.UDP, 53, 53,
                          True, 4, LoadDistribution.SOURCE_IP, None))
    assert lb.probes == (Probe(f"{fe}-TCP-80", ProbeProtocol.TCP, 30080, None, 5, 2),)
    outcome = result.outcomes[UID]
    assert (outcome.ip, outcome.error, outcome.type) == ("198.51.100.1", None,
                                                         LoadBalancerType.PUBLIC)


def test_internal_and_floating_ip_off() -> None:
    annotations = {"service.beta.kubernetes.io/azure-load-balancer-internal": "true",
                   "service.beta.kubernetes.io/azure-disable-load-balancer-floating-ip": "true"}
    result = plan([svc(annotations=annotations)], NODES, LbConfig("aks"))
    lb = result.load_balancers[LoadBalancerType.INTERNAL]
    assert lb.name == "aks-internal"
    assert [(r.frontend_ip, r.frontend_port, r.backend_port, r.enable_floating_ip)
            for r in lb.load_balancing_rules] == [("10.224.255.254", 80, 30080, False),
                                                  ("10.224.255.254", 53, 30053, False)]
    assert LoadBalancerType.PUBLIC not in result.load_balancers


def test_errors_pending_and_other_classes() -> None:
    bad = svc("bad", "u-bad", annotations={
        "service.beta.kubernetes.io/azure-load-balancer-tcp-idle-timeout": "200"})
    other = svc("other", "u-other", loadBalancerClass="example.com/other")
    cluster_ip = svc("cip", "u-cip", type="ClusterIP")
    result = plan([bad, other, cluster_ip], NODES, LbConfig())
    assert set(result.outcomes) == {"u-bad"}
    assert result.outcomes["u-bad"].ip is None
    assert "idle timeout 200" in (result.outcomes["u-bad"].error or "")
    assert result.load_balancers == {}


def test_cleanup_of_deleted_and_retyped_services() -> None:
    fin = {"finalizers": [CLEANUP_FINALIZER]}
    deleting = svc("gone", "u-gone", meta={**fin, "deletionTimestamp": "2024-01-02T00:00:00Z"})
    retyped = svc("cip", "u-cip", meta=fin, type="ClusterIP")
    never = svc("never", "u-never", type="NodePort")
    result = plan([deleting, retyped, never], NODES, LbConfig())
    assert [s.name for s in result.cleanup] == ["cip", "gone"]
    assert result.outcomes == {}


def test_remembered_frontend_and_exclusive_ports() -> None:
    a = svc("a", "uid-a", "2024-01-01T00:00:00Z")
    b = svc("b", "uid-b", "2024-01-01T00:00:01Z",
            annotations={"service.beta.kubernetes.io/azure-load-balancer-ipv4": "198.51.100.9"})
    result = plan([b, a], NODES, LbConfig(), remembered={frontend_name("uid-a"): "198.51.100.9"})
    assert result.outcomes["uid-a"].ip == "198.51.100.9"
    assert result.outcomes["uid-b"].error == (
        "cannot use requested IP: port TCP/80, UDP/53 of 198.51.100.9 is already in use by "
        "service default/a")


def test_parse_node() -> None:
    node = parse_node({"metadata": {"name": "node-1", "labels": {
        "node.kubernetes.io/exclude-from-external-load-balancers": ""}},
        "status": {"addresses": [{"type": "Hostname", "address": "node-1"},
                                 {"type": "InternalIP", "address": "10.224.0.4"}],
                   "conditions": [{"type": "Ready", "status": "True"}]}})
    assert node == NodeInfo("node-1", "10.224.0.4", ready=True, excluded=True)
