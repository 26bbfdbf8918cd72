"""Creating valid Services: the exact stored spec/status and the allocation keys."""

from __future__ import annotations

from typing import Any

import pytest
from svc_helpers import Cluster, svc

ONE = {"ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack"}
WEB = {"app": "web"}
P80 = {"port": 80, "protocol": "TCP", "targetPort": 80}
OWNER = b"default/web"


def cip(ip: str = "10.0.1.1") -> dict[str, Any]:
    return {"clusterIP": ip, "clusterIPs": [ip]}


CASES = [
    pytest.param(
        {"selector": WEB, "ports": [{"port": 80}]},
        {"selector": WEB, "ports": [P80], "type": "ClusterIP", "sessionAffinity": "None",
         "internalTrafficPolicy": "Cluster", **ONE, **cip()},
        {"10.0.1.1": OWNER}, {}, id="clusterip-defaults"),
    pytest.param(
        {"selector": WEB, "ports": [{"port": 80, "targetPort": "http", "name": "web"}],
         "clusterIP": "10.0.0.10"},
        {"selector": WEB, "ports": [{"port": 80, "targetPort": "http", "name": "web",
                                     "protocol": "TCP"}], "type": "ClusterIP",
         "sessionAffinity": "None", "internalTrafficPolicy": "Cluster", **ONE,
         **cip("10.0.0.10")},
        {"10.0.0.10": OWNER}, {}, id="requested-static-ip"),
    pytest.param(
        {"type": "NodePort", "ports": [{"port": 80, "targetPort": 8080}]},
        {"type": "NodePort", "ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP",
                                        "nodePort": 30086}],
         "sessionAffinity": "None", "externalTrafficPolicy": "Cluster",
         "internalTrafficPolicy": "Cluster", **ONE, **cip()},
        {"10.0.1.1": OWNER}, {"30086": OWNER}, id="nodeport-dynamic-upper-band"),
    pytest.param(
        {"type": "NodePort", "ports": [{"port": 53, "protocol": "TCP", "name": "t"},
                                       {"port": 53, "protocol": "UDP", "name": "u",
                                        "nodePort": 30053}]},
        {"type": "NodePort", "ports": [
            {"port": 53, "protocol": "TCP", "name": "t", "targetPort": 53, "nodePort": 30053},
            {"port": 53, "protocol": "UDP", "name": "u", "targetPort": 53, "nodePort": 30053}],
         "sessionAffinity": "None", "externalTrafficPolicy": "Cluster",
         "internalTrafficPolicy": "Cluster", **ONE, **cip()},
        {"10.0.1.1": OWNER}, {"30053": OWNER}, id="tcp-udp-share-requested-nodeport"),
    pytest.param(
        {"type": "LoadBalancer", "ports": [{"port": 443}], "externalTrafficPolicy": "Local"},
        {"type": "LoadBalancer", "ports": [{"port": 443, "protocol": "TCP", "targetPort": 443,
                                            "nodePort": 30086}],
         "externalTrafficPolicy": "Local", "sessionAffinity": "None",
         "internalTrafficPolicy": "Cluster", "allocateLoadBalancerNodePorts": True,
         "healthCheckNodePort": 30087, **ONE, **cip()},
        {"10.0.1.1": OWNER}, {"30086": OWNER, "30087": OWNER}, id="lb-local-health-check"),
    pytest.param(
        {"type": "LoadBalancer", "ports": [{"port": 80, "name": "a"},
                                           {"port": 81, "name": "b", "nodePort": 30081}],
         "allocateLoadBalancerNodePorts": False},
        {"type": "LoadBalancer", "ports": [
            {"port": 80, "name": "a", "protocol": "TCP", "targetPort": 80},
            {"port": 81, "name": "b", "protocol": "TCP", "targetPort": 81, "nodePort": 30081}],
         "allocateLoadBalancerNodePorts": False, "sessionAffinity": "None",
         "externalTrafficPolicy": "Cluster", "internalTrafficPolicy": "Cluster",
         **ONE, **cip()},
        {"10.0.1.1": OWNER}, {"30081": OWNER}, id="lb-no-nodeports-keeps-explicit"),
    pytest.param(
        {"clusterIP": "None", "selector": WEB, "ports": [{"port": 80}]},
        {"clusterIP": "None", "clusterIPs": ["None"], "selector": WEB, "ports": [P80],
         "type": "ClusterIP", "sessionAffinity": "None", "internalTrafficPolicy": "Cluster",
         **ONE},
        {}, {}, id="headless-with-selector"),
    pytest.param(
        {"clusterIP": "None"},
        {"clusterIP": "None", "clusterIPs": ["None"], "type": "ClusterIP",
         "sessionAffinity": "None", "internalTrafficPolicy": "Cluster",
         "ipFamilies": ["IPv4", "IPv6"], "ipFamilyPolicy": "RequireDualStack"},
        {}, {}, id="headless-selectorless-dual"),
    pytest.param(
        {"type": "ExternalName", "externalName": "db.example.com."},
        {"type": "ExternalName", "externalName": "db.example.com.", "sessionAffinity": "None"},
        {}, {}, id="externalname"),
    pytest.param(
        {"ports": [{"port": 80}], "sessionAffinity": "ClientIP", "externalIPs": ["192.0.2.7"]},
        {"ports": [P80], "sessionAffinity": "ClientIP", "externalIPs": ["192.0.2.7"],
         "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 10800}},
         "type": "ClusterIP", "externalTrafficPolicy": "Cluster",
         "internalTrafficPolicy": "Cluster", **ONE, **cip()},
        {"10.0.1.1": OWNER}, {}, id="clientip-affinity-external-ips"),
    pytest.param(
        {"ports": [{"port": 80, "nodePort": 0, "name": ""}], "clusterIP": "", "selector": {},
         "externalIPs": None, "type": "", "sessionAffinity": ""},
        {"ports": [P80], "type": "ClusterIP", "sessionAffinity": "None",
         "internalTrafficPolicy": "Cluster", **ONE, **cip()},
        {"10.0.1.1": OWNER}, {}, id="empty-values-omitted"),
]


@pytest.mark.parametrize(("spec", "want", "ips", "ports"), CASES)
def test_create(spec: dict[str, Any], want: dict[str, Any], ips: dict[str, bytes],
                ports: dict[str, bytes]) -> None:
    cluster = Cluster()
    got = cluster.create(svc(**spec))
    assert got["spec"] == want
    assert got["status"] == {"loadBalancer": {}}
    assert cluster.ips() == ips
    assert cluster.ports() == ports


def test_create_resets_status_and_defaults_ip_mode() -> None:
    cluster = Cluster()
    obj = svc(type="LoadBalancer", ports=[{"port": 80}])
    obj["status"] = {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}]}}
    assert cluster.create(obj)["status"] == {"loadBalancer": {}}
    new = cluster.rt.strategy
    status = {"status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}]}},
              "spec": {"type": "LoadBalancer"}}
    new.default(status)
    assert status["status"]["loadBalancer"]["ingress"] == [{"ip": "192.0.2.1", "ipMode": "VIP"}]


def test_dynamic_ips_skip_taken_and_dns() -> None:
    cluster = Cluster()
    cluster.create(svc("a", clusterIP="10.0.1.1", ports=[{"port": 80}]))
    got = cluster.create(svc("b", ports=[{"port": 80}]))
    assert got["spec"]["clusterIP"] == "10.0.1.2"
    assert cluster.ips() == {"10.0.1.1": b"default/a", "10.0.1.2": b"default/b"}
