"""The pure parts of `bench/gateway.py`: the objects it applies are valid against the
Gateway API CRDs, the baseline config, the 50 route edits, the percentile and when a
Gateway counts as having its address."""

from __future__ import annotations

from typing import Any

import pytest

from bench import _gwplan as plan
from tests.unit.apiextensions.gateway_bundle import needs_bundle, schema_errors


@needs_bundle
@pytest.mark.parametrize("obj", [pytest.param(o, id=f"{o['kind']}-{o['metadata']['name']}")
                                 for o in plan.gateway_objects()])
def test_gateway_objects_are_valid(obj: dict[str, Any]) -> None:
    assert schema_errors(obj) == []


@needs_bundle
def test_route_edits_are_fifty_distinct_valid_routes() -> None:
    edits = plan.route_edits()
    assert len(edits) == 50
    assert len({repr(e) for e in edits}) == 50
    for spec in edits:
        route = {"apiVersion": f"{plan.GROUP}/v1", "kind": "HTTPRoute",
                 "metadata": {"name": "web"}, "spec": spec}
        assert schema_errors(route) == []
        catch_all = spec["rules"][-1]
        assert catch_all["backendRefs"] == [{"name": "web", "port": 80}]


def test_baseline_config_lists_the_pods_in_order() -> None:
    assert plan.baseline_config(["10.244.1.5", "10.244.0.7"]) == (
        "global\n" + plan.DEFAULTS +
        "frontend fe\n    bind :80\n    default_backend be\nbackend be\n"
        "    server s0 10.244.0.7:80\n    server s1 10.244.1.5:80\n")


def test_baseline_runs_the_machines_haproxy_behind_a_load_balancer() -> None:
    deployment, service, autoscaler = plan.baseline_objects("/tmp/x/baseline.cfg")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["haproxy", "-db", "-f", "/tmp/x/baseline.cfg"]
    assert container["resources"]["requests"]["cpu"] == "100m"   # as a gateway pod's
    assert deployment["spec"]["replicas"] == 2
    assert service["spec"]["type"] == "LoadBalancer"
    assert autoscaler["spec"]["scaleTargetRef"]["name"] == plan.BASELINE
    assert (autoscaler["spec"]["minReplicas"], autoscaler["spec"]["maxReplicas"]) == (2, 5)


@pytest.mark.parametrize(("fraction", "expected"), [
    pytest.param(0.5, 50.0, id="p50"), pytest.param(0.99, 99.0, id="p99"),
    pytest.param(1.0, 100.0, id="max")])
def test_percentile_nearest_rank(fraction: float, expected: float) -> None:
    assert plan.percentile([float(v) for v in range(100, 0, -1)], fraction) == expected


def _gateway(status: str, generation: int, observed: int,
             addresses: list[str]) -> dict[str, Any]:
    return {"metadata": {"generation": generation}, "status": {
        "conditions": [{"type": "Programmed", "status": status,
                        "observedGeneration": observed}],
        "addresses": [{"type": "IPAddress", "value": a} for a in addresses]}}


SERVICE = {"status": {"loadBalancer": {"ingress": [{"ip": "198.51.100.7"}]}}}


@pytest.mark.parametrize(("gateway", "service", "expected"), [
    pytest.param(_gateway("True", 2, 2, ["198.51.100.7"]), SERVICE, "198.51.100.7", id="ready"),
    pytest.param(_gateway("True", 2, 1, ["198.51.100.7"]), SERVICE, None, id="stale"),
    pytest.param(_gateway("False", 1, 1, ["198.51.100.7"]), SERVICE, None, id="not-programmed"),
    pytest.param(_gateway("True", 1, 1, []), SERVICE, None, id="no-address"),
    pytest.param(_gateway("True", 1, 1, ["198.51.100.7"]), None, None, id="no-service"),
    pytest.param(_gateway("True", 1, 1, ["198.51.100.8"]), SERVICE, None, id="other-ip"),
])
def test_programmed_address(gateway: dict[str, Any], service: dict[str, Any] | None,
                            expected: str | None) -> None:
    assert plan.programmed_address(gateway, service) == expected


def test_gateway_service_is_named_as_on_aks() -> None:
    assert plan.GATEWAY_SERVICE == "bench-approuting-istio"
