"""AKS annotations and spec fields -> ServiceSettings (probes, floating IP, ranges, errors)."""

from __future__ import annotations

from typing import Any

import pytest

from portico.cloud.lb.annotations import (
    ProbeSpec,
    SettingsError,
    service_settings,
)
from portico.cloud.lb.model import LoadDistribution, ProbeProtocol, parse_service

A = "service.beta.kubernetes.io/"


def svc(annotations: dict[str, str] | None = None, ports: list[dict[str, Any]] | None = None,
        **spec: Any) -> Any:
    return parse_service({
        "metadata": {"namespace": "default", "name": "web", "uid": "u-1",
                     "annotations": annotations or {}},
        "spec": {"type": "LoadBalancer", "ports": ports if ports is not None else [
            {"port": 80, "nodePort": 30080, "protocol": "TCP"}], **spec}})


def probes(service: Any) -> list[ProbeSpec | None]:
    return [r.probe for r in service_settings(service).rules]


@pytest.mark.parametrize(("service", "expected"), [
    pytest.param(svc(), [ProbeSpec(ProbeProtocol.TCP, 30080, None, 5, 2)], id="tcp-on-nodeport"),
    pytest.param(svc(ports=[{"port": 53, "nodePort": 30053, "protocol": "UDP"}]), [None],
                 id="udp-no-probe"),
    pytest.param(svc(externalTrafficPolicy="Local", healthCheckNodePort=32000, ports=[
        {"port": 80, "nodePort": 30080}, {"port": 53, "nodePort": 30053, "protocol": "UDP"}]),
        [ProbeSpec(ProbeProtocol.HTTP, 32000, "/healthz", 5, 2)] * 2, id="local-healthz"),
    pytest.param(svc({A + "azure-load-balancer-health-probe-protocol": "http",
                      A + "azure-load-balancer-health-probe-request-path": "/ready",
                      A + "azure-load-balancer-health-probe-interval": "10",
                      A + "azure-load-balancer-health-probe-num-of-probe": "3"}),
                 [ProbeSpec(ProbeProtocol.HTTP, 30080, "/ready", 10, 3)], id="global-annotations"),
    pytest.param(svc(ports=[{"port": 80, "nodePort": 30080, "appProtocol": "http"}]),
                 [ProbeSpec(ProbeProtocol.HTTP, 30080, "/", 5, 2)], id="app-protocol-http"),
    pytest.param(svc({A + "port_80_health-probe_protocol": "Https",
                      A + "port_80_health-probe_port": "443",
                      A + "port_80_health-probe_request-path": "/hz"},
                     ports=[{"port": 80, "nodePort": 30080}, {"port": 443, "nodePort": 30443}]),
                 [ProbeSpec(ProbeProtocol.HTTPS, 30443, "/hz", 5, 2),
                  ProbeSpec(ProbeProtocol.TCP, 30443, None, 5, 2)], id="per-port-override"),
    pytest.param(svc({A + "port_80_no_probe_rule": "true"}), [None], id="no-probe-rule"),
    pytest.param(svc({A + "port_80_no_lb_rule": "true"}), [], id="no-lb-rule"),
    pytest.param(svc(ports=[{"port": 80, "protocol": "TCP"}]), [None], id="no-nodeport"),
])
def test_probe_rules(service: Any, expected: list[ProbeSpec | None]) -> None:
    assert probes(service) == expected


@pytest.mark.parametrize(("service", "message"), [
    pytest.param(svc({A + "azure-load-balancer-tcp-idle-timeout": "3"}),
                 "idle timeout 3 is not within 4 and 100 minutes", id="idle-too-low"),
    pytest.param(svc({A + "azure-load-balancer-tcp-idle-timeout": "101"}),
                 "idle timeout 101 is not within 4 and 100 minutes", id="idle-too-high"),
    pytest.param(svc({A + "azure-load-balancer-tcp-idle-timeout": "x"}),
                 "'x' is not an integer", id="idle-not-int"),
    pytest.param(svc({A + "azure-allowed-ip-ranges": "10.0.0.0/8"},
                     loadBalancerSourceRanges=["10.0.0.0/8"]),
                 "both spec.loadBalancerSourceRanges and annotation", id="both-ranges"),
    pytest.param(svc(loadBalancerSourceRanges=["10.0.0.300/8"]), "invalid source range",
                 id="bad-range"),
    pytest.param(svc({A + "azure-load-balancer-health-probe-interval": "4"}),
                 "interval 4 is below the minimum 5", id="interval-min"),
    pytest.param(svc({A + "azure-load-balancer-health-probe-num-of-probe": "1"}),
                 "num-of-probe 1 is below the minimum 2", id="count-min"),
    pytest.param(svc({A + "azure-load-balancer-health-probe-interval": "60"}),
                 "= 120 must be below 120", id="window"),
    pytest.param(svc({A + "azure-load-balancer-health-probe-protocol": "grpc"}),
                 "unsupported health probe protocol 'grpc'", id="protocol"),
    pytest.param(svc(externalTrafficPolicy="Local"), "needs spec.healthCheckNodePort",
                 id="local-without-hcnp"),
    pytest.param(svc({A + "azure-disable-load-balancer-floating-ip": "true"},
                     ports=[{"port": 80}]), "has no nodePort", id="dnat-needs-nodeport"),
    pytest.param(svc(ports=[{"port": 80, "nodePort": 30080, "protocol": "SCTP"}]),
                 "SCTP is not supported", id="sctp"),
])
def test_invalid_settings(service: Any, message: str) -> None:
    with pytest.raises(SettingsError, match=None) as caught:
        service_settings(service)
    assert message in str(caught.value)


def test_rule_settings() -> None:
    settings = service_settings(svc(
        {A + "azure-load-balancer-internal": "true", A + "azure-load-balancer-ipv4": "10.224.9.9",
         A + "azure-load-balancer-tcp-idle-timeout": "30",
         A + "azure-disable-load-balancer-floating-ip": "true",
         A + "azure-allowed-ip-ranges": "10.1.0.0/16, 10.0.0.0/16,2001:db8::/32"},
        sessionAffinity="ClientIP", loadBalancerIP="10.224.1.1"))
    assert (settings.internal, settings.requested_ip, settings.floating_ip,
            settings.idle_timeout, settings.load_distribution, settings.source_ranges) == (
        True, "10.224.9.9", False, 30, LoadDistribution.SOURCE_IP, ("10.0.0.0/16", "10.1.0.0/16"))


@pytest.mark.parametrize(("spec", "requested", "ranges"), [
    pytest.param({"loadBalancerIP": "198.51.100.7"}, "198.51.100.7", (), id="spec-ip"),
    pytest.param({"loadBalancerSourceRanges": ["0.0.0.0/0"]}, None, (), id="everyone"),
    pytest.param({"loadBalancerSourceRanges": ["10.223.0.1/32"]}, None, ("10.223.0.1/32",),
                 id="one-host"),
])
def test_requested_ip_and_ranges(spec: dict[str, Any], requested: str | None,
                                 ranges: tuple[str, ...]) -> None:
    settings = service_settings(svc(**spec))
    assert (settings.requested_ip, settings.source_ranges, settings.floating_ip,
            settings.idle_timeout, settings.load_distribution) == (
        requested, ranges, True, 4, LoadDistribution.DEFAULT)


def test_minimum_interval_is_configurable() -> None:
    settings = service_settings(svc({A + "azure-load-balancer-health-probe-interval": "1"}),
                                min_interval=1)
    assert settings.rules[0].probe == ProbeSpec(ProbeProtocol.TCP, 30080, None, 1, 2)
