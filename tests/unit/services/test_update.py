"""Updates: type-change sequences, carried allocations, immutability, release and repair."""

from __future__ import annotations

import copy
import datetime
import ipaddress
from typing import Any

import pytest
from svc_helpers import CONFIG, IPS, PORTS, Cluster, error_of, svc

from portico.apiserver.resources.services import (
    SERVICES,
    ServiceConfig,
    dns_service_ip,
    kubernetes_service_ip,
    repair_allocations,
)
from portico.testing.write_context import MemoryWriteContext

P = [{"port": 80}]
OWNER = b"default/web"
INV = 'Service "web" is invalid: '


def test_clusterip_nodeport_loadbalancer_and_back() -> None:
    c = Cluster()
    c.create(svc(ports=P))
    got = c.patch_spec("web", type="NodePort")
    assert got["spec"]["ports"][0]["nodePort"] == 30086
    assert got["spec"]["externalTrafficPolicy"] == "Cluster"
    got = c.patch_spec("web", type="LoadBalancer")
    assert got["spec"]["ports"][0]["nodePort"] == 30086
    assert got["spec"]["allocateLoadBalancerNodePorts"] is True
    assert c.ports() == {"30086": OWNER}
    got = c.patch_spec("web", type="ClusterIP")
    assert got["spec"]["ports"] == [{"port": 80, "protocol": "TCP", "targetPort": 80}]
    assert "allocateLoadBalancerNodePorts" not in got["spec"]
    assert "externalTrafficPolicy" not in got["spec"]
    assert c.ports() == {}
    assert c.ips() == {"10.0.1.1": OWNER}


def test_changing_nodeport_frees_the_old_one() -> None:
    c = Cluster()
    c.create(svc(type="NodePort", ports=[{"port": 80, "nodePort": 30080}]))
    c.patch_spec("web", ports=[{"port": 80, "nodePort": 30081}])
    assert c.ports() == {"30081": OWNER}
    other = c.create(svc("other", type="NodePort", ports=[{"port": 80, "nodePort": 30080}]))
    assert other["spec"]["ports"][0]["nodePort"] == 30080


def test_apply_without_allocated_values_keeps_them() -> None:
    """kubectl apply resends the manifest without clusterIP and nodePort."""
    c = Cluster()
    manifest = svc(type="LoadBalancer", externalTrafficPolicy="Local",
                   ports=[{"port": 80, "name": "http"}])
    first = c.create(manifest)
    again = copy.deepcopy(manifest)
    again["spec"]["ports"][0]["port"] = 81
    second = c.update(again)
    assert second["spec"]["clusterIP"] == first["spec"]["clusterIP"] == "10.0.1.1"
    assert second["spec"]["ports"][0]["nodePort"] == first["spec"]["ports"][0]["nodePort"]
    assert second["spec"]["healthCheckNodePort"] == first["spec"]["healthCheckNodePort"]
    assert c.ports() == {"30086": OWNER, "30087": OWNER}


def test_local_to_cluster_releases_health_check_port() -> None:
    c = Cluster()
    c.create(svc(type="LoadBalancer", externalTrafficPolicy="Local", ports=P))
    got = c.patch_spec("web", externalTrafficPolicy="Cluster")
    assert "healthCheckNodePort" not in got["spec"]
    assert c.ports() == {"30086": OWNER}
    got = c.patch_spec("web", externalTrafficPolicy="Local")
    assert got["spec"]["healthCheckNodePort"] == 30087


def test_externalname_round_trip_releases_and_reallocates_ip() -> None:
    c = Cluster()
    c.create(svc(ports=P, clusterIP="10.0.0.20"))
    got = c.patch_spec("web", type="ExternalName", externalName="db.example.com")
    assert {"clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"}.isdisjoint(got["spec"])
    assert c.ips() == {}
    got = c.patch_spec("web", type="ClusterIP", externalName=None)
    assert got["spec"]["clusterIPs"] == ["10.0.1.1"]
    assert c.ips() == {"10.0.1.1": OWNER}


def test_allocate_lb_node_ports_false_then_true() -> None:
    c = Cluster()
    c.create(svc(type="LoadBalancer", allocateLoadBalancerNodePorts=False, ports=P))
    assert c.ports() == {}
    got = c.patch_spec("web", allocateLoadBalancerNodePorts=True)
    assert got["spec"]["ports"][0]["nodePort"] == 30086
    assert got["spec"]["clusterIP"] == "10.0.1.1"


UPDATE_ERRORS = [
    pytest.param({"clusterIP": "10.0.0.5", "clusterIPs": ["10.0.0.5"]},
                 INV + 'spec.clusterIPs[0]: Invalid value: []string{"10.0.0.5"}: may not change '
                 "once set", id="cluster-ip-immutable"),
    pytest.param({"healthCheckNodePort": 30500},
                 INV + "spec.healthCheckNodePort: Forbidden: field is immutable",
                 id="hcnp-immutable"),
    pytest.param({"loadBalancerClass": "example.com/other"},
                 INV + 'spec.loadBalancerClass: Invalid value: "example.com/other": may not '
                 "change once set", id="lb-class-immutable"),
]


@pytest.mark.parametrize(("changes", "message"), UPDATE_ERRORS)
def test_update_errors(changes: dict[str, Any], message: str) -> None:
    c = Cluster()
    c.create(svc(type="LoadBalancer", externalTrafficPolicy="Local",
                 loadBalancerClass="example.com/lb", ports=P))
    snapshot = dict(c.ctx.data)
    assert error_of(lambda: c.patch_spec("web", **changes)) == (422, message)
    assert c.ctx.data == snapshot


def test_release_and_reallocate() -> None:
    c = Cluster()
    c.create(svc(type="LoadBalancer", externalTrafficPolicy="Local", ports=P,
                 clusterIP="10.0.0.50"))
    c.delete("web")
    assert c.ctx.data == {}
    again = c.create(svc(type="NodePort", ports=[{"port": 80, "nodePort": 30086}],
                         clusterIP="10.0.0.50"))
    assert again["spec"]["clusterIP"] == "10.0.0.50"
    assert c.ports() == {"30086": OWNER}


def test_random_allocation_stays_in_upper_band() -> None:
    c = Cluster(ServiceConfig())
    for i in range(20):
        spec = c.create(svc(f"s{i}", type="NodePort", ports=P))["spec"]
        assert int(ipaddress.IPv4Address(spec["clusterIP"])) >= int(
            ipaddress.IPv4Address("10.0.1.1"))
        assert 30086 <= spec["ports"][0]["nodePort"] <= 32767
    assert len(c.ips()) == len(c.ports()) == 20


def test_well_known_addresses() -> None:
    assert (dns_service_ip(CONFIG), kubernetes_service_ip(CONFIG)) == ("10.0.0.10", "10.0.0.1")


def test_repair() -> None:
    a = svc("a", type="NodePort", clusterIP="10.0.1.1", clusterIPs=["10.0.1.1"],
            ports=[{"port": 80, "nodePort": 30080}])
    b = svc("b", type="NodePort", clusterIP="10.0.1.1", clusterIPs=["10.0.1.1"],
            ports=[{"port": 80, "nodePort": 30081}])
    ctx = MemoryWriteContext({IPS + "10.0.9.9": b"x/gone", PORTS + "30081": b"x/wrong"})
    lines = repair_allocations(ctx, [a, b], CONFIG)
    assert lines == [
        "the cluster IP 10.0.1.1 is assigned to more than one Service (default/a, default/b); "
        "please recreate default/b",
        "released leaked cluster IP 10.0.9.9 (recorded for x/gone)",
        "re-recorded missing cluster IP 10.0.1.1 for default/a",
        "the node port 30081 was recorded for x/wrong; now recorded for default/b",
        "re-recorded missing node port 30080 for default/a",
    ]
    assert ctx.data == {IPS + "10.0.1.1": b"default/a", PORTS + "30080": b"default/a",
                        PORTS + "30081": b"default/b"}
    assert repair_allocations(ctx, [a, b], CONFIG)[1:] == []


NOW = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)
TABLE = [
    pytest.param({"type": "ClusterIP", "clusterIPs": ["10.0.0.7"],
                  "ports": [{"port": 80, "protocol": "TCP"}]}, {},
                 ["ClusterIP", "10.0.0.7", "<none>", "80/TCP", "<none>"], id="clusterip"),
    pytest.param({"type": "NodePort", "clusterIPs": ["10.0.0.7"], "selector": {"b": "2", "a": "1"},
                  "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"},
                            {"port": 443, "nodePort": 31443, "protocol": "TCP"}]}, {},
                 ["NodePort", "10.0.0.7", "<none>", "80:30080/TCP,443:31443/TCP", "a=1,b=2"],
                 id="nodeport"),
    pytest.param({"type": "LoadBalancer", "clusterIPs": ["10.0.0.7"]}, {},
                 ["LoadBalancer", "10.0.0.7", "<pending>", "<none>", "<none>"], id="lb-pending"),
    pytest.param({"type": "LoadBalancer", "externalIPs": ["192.0.2.9"]},
                 {"loadBalancer": {"ingress": [{"ip": "203.0.113.5"}, {"hostname": "lb.x"}]}},
                 ["LoadBalancer", "<none>", "203.0.113.5,lb.x,192.0.2.9", "<none>", "<none>"],
                 id="lb-ingress"),
    pytest.param({"type": "ExternalName", "externalName": "db.example.com"}, {},
                 ["ExternalName", "<none>", "db.example.com", "<none>", "<none>"],
                 id="externalname"),
]


@pytest.mark.parametrize(("spec", "status", "cells"), TABLE)
def test_table_cells(spec: dict[str, Any], status: dict[str, Any], cells: list[str]) -> None:
    obj = svc(**spec)
    obj["metadata"]["creationTimestamp"] = "2024-12-31T23:55:00Z"
    obj["status"] = status
    row = SERVICES.table.cells(obj, NOW)
    assert row == ["web", *cells[:4], "5m", cells[4]]
    assert [c.name for c in SERVICES.table.columns] == [
        "Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age", "Selector"]
    assert [c.priority for c in SERVICES.table.columns][-1] == 1


STATUS = [
    pytest.param("LoadBalancer", [{"ip": "203.0.113.5", "ipMode": "VIP"}], [], id="ok"),
    pytest.param("ClusterIP", [{"ip": "203.0.113.5", "ipMode": "VIP"}],
                 ["status.loadBalancer.ingress: Forbidden: may only be used when `spec.type` is "
                  "'LoadBalancer'"], id="not-lb"),
    pytest.param("LoadBalancer", [{"ip": "1.2.3.4.5", "ipMode": "Bogus"}],
                 ['status.loadBalancer.ingress[0].ip: Invalid value: "1.2.3.4.5": must be a valid '
                  "IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
                  'status.loadBalancer.ingress[0].ipMode: Unsupported value: "Bogus": supported '
                  'values: "Proxy", "VIP"'], id="bad-ip-and-mode"),
    pytest.param("LoadBalancer", [{"hostname": "10.0.0.1", "ipMode": "VIP"}],
                 ["status.loadBalancer.ingress[0].ipMode: Forbidden: may not be specified when "
                  "`ip` is not set",
                  'status.loadBalancer.ingress[0].hostname: Invalid value: "10.0.0.1": must be a '
                  "DNS name, not an IP address"], id="hostname-ip"),
]


@pytest.mark.parametrize(("kind", "ingress", "messages"), STATUS)
def test_status_validation(kind: str, ingress: list[Any], messages: list[str]) -> None:
    obj = svc(type=kind, ports=P)
    obj["status"] = {"loadBalancer": {"ingress": ingress}}
    errs = SERVICES.strategy.validate_status_update(obj, obj)  # type: ignore[attr-defined]
    assert [e.message() for e in errs] == messages
