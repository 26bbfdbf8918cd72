"""LoadBalancer objects (spec/status JSON), reading them back, and `portico lb show`."""

from __future__ import annotations

from portico.cli._lb import format_load_balancer
from portico.cloud.lb import objects
from portico.cloud.lb.build import LbConfig, plan
from portico.cloud.lb.model import (
    HealthState,
    LoadBalancer,
    LoadBalancerType,
    NodeInfo,
    ProbeTarget,
    parse_service,
    probe_target,
)

SVC = parse_service({
    "metadata": {"namespace": "default", "name": "web", "uid": "1234",
                 "annotations": {"service.beta.kubernetes.io/azure-allowed-ip-ranges":
                                 "10.223.0.0/30"}},
    "spec": {"type": "LoadBalancer", "ports": [{"port": 80, "nodePort": 30080}]}})


def probe_targets(lbs: list[LoadBalancer]) -> set[ProbeTarget]:
    """Every (probe, backend member) pair the load balancers probe."""
    return {probe_target(p, m) for lb in lbs for p in lb.probes
            for m in lb.backend_address_pool.members}


LB = plan([SVC], [NodeInfo("node-1", "10.224.0.4")], LbConfig("aks")).load_balancers[
    LoadBalancerType.PUBLIC]


def test_body_and_status() -> None:
    assert objects.body(LB) == {
        "apiVersion": "cloud.portico.dev/v1", "kind": "LoadBalancer",
        "metadata": {"name": "aks", "labels": {"portico.dev/load-balancer-type": "public"}},
        "spec": {
            "type": "public",
            "frontendIPConfigurations": [{"name": "a1234", "publicIPAddress": "198.51.100.1",
                                          "service": "default/web"}],
            "backendAddressPools": [{"name": "aks", "members": [
                {"name": "node-1", "ipAddress": "10.224.0.4"}]}],
            "loadBalancingRules": [{
                "name": "a1234-TCP-80", "frontendIPConfiguration": "a1234", "protocol": "Tcp",
                "frontendPort": 80, "backendPort": 80, "enableFloatingIP": True,
                "idleTimeoutInMinutes": 4, "loadDistribution": "Default",
                "probe": "a1234-TCP-80", "backendAddressPool": "aks"}],
            "probes": [{"name": "a1234-TCP-80", "protocol": "Tcp", "port": 30080,
                        "intervalInSeconds": 5, "numberOfProbes": 2}],
            "securityRules": [{
                "name": "a1234-TCP-80-allow", "access": "Allow", "direction": "Inbound",
                "priority": 500, "protocol": "Tcp", "sourceAddressPrefixes": ["10.223.0.0/30"],
                "destinationAddressPrefix": "198.51.100.1", "destinationPortRange": "80"}]}}
    health = {t: HealthState.UP for t in probe_targets([LB])}
    assert objects.status(LB, health) == {"backendHealth": [
        {"probe": "a1234-TCP-80", "node": "node-1", "state": "Up"}]}
    assert objects.status(LB, {}) == {"backendHealth": [
        {"probe": "a1234-TCP-80", "node": "node-1", "state": "Down"}]}


def test_read_back() -> None:
    obj = {**objects.body(LB), "status": objects.status(LB, {})}
    assert objects.remembered([obj]) == {"a1234": "198.51.100.1"}
    assert objects.recorded_health([obj]) == {("a1234-TCP-80", "node-1"): HealthState.DOWN}


def test_show() -> None:
    obj = {**objects.body(LB), "status": objects.status(
        LB, {t: HealthState.UP for t in probe_targets([LB])})}
    assert format_load_balancer(obj) == "\n".join([
        "Name:  aks",
        "Type:  public",
        "",
        "Frontend IP configurations:",
        "  NAME    IP ADDRESS     SERVICE",
        "  a1234   198.51.100.1   default/web",
        "",
        "Backend address pool aks:",
        "  NODE     IP ADDRESS   PROBES   PROBE STATE",
        "  node-1   10.224.0.4   1/1 up   a1234-TCP-80=Up",
        "",
        "Load balancing rules:",
        "  NAME           PROTOCOL   FRONTEND PORT   BACKEND PORT   FLOATING IP   IDLE TIMEOUT"
        "   DISTRIBUTION   PROBE",
        "  a1234-TCP-80   Tcp        80              80             Enabled       4m"
        "             Default        a1234-TCP-80",
        "",
        "Probes:",
        "  NAME           PROTOCOL   PORT    PATH   INTERVAL   PROBES",
        "  a1234-TCP-80   Tcp        30080   -      5s         2",
        "",
        "Security rules:",
        "  NAME                 ACCESS   SOURCES         DESTINATION    PORT",
        "  a1234-TCP-80-allow   Allow    10.223.0.0/30   198.51.100.1   80",
    ]) + "\n"
