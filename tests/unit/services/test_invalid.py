"""Rejected Services: exact HTTP code and `Status.message`, as kube-apiserver words them."""

from __future__ import annotations

from typing import Any

import pytest
from svc_helpers import TINY, Cluster, error_of, svc

P = [{"port": 80}]
INV = 'Service "web" is invalid: '
LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters "
             "or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  "
             "or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")

CASES = [
    pytest.param({}, INV + "spec.ports: Required value", id="no-ports"),
    pytest.param({"ports": [{"port": 0}]},
                 INV + "[spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, "
                 "inclusive, spec.ports[0].targetPort: Invalid value: 0: must be between 1 and "
                 "65535, inclusive]", id="port-zero"),
    pytest.param({"ports": [{"port": 80, "protocol": "HTTP"}]},
                 INV + 'spec.ports[0].protocol: Unsupported value: "HTTP": supported values: '
                 '"SCTP", "TCP", "UDP"', id="bad-protocol"),
    pytest.param({"ports": [{"port": 80}, {"port": 81}]},
                 INV + "[spec.ports[0].name: Required value, spec.ports[1].name: Required "
                 "value]", id="names-required"),
    pytest.param({"ports": [{"port": 80, "name": "a"}, {"port": 81, "name": "a"}]},
                 INV + 'spec.ports[1].name: Duplicate value: "a"', id="duplicate-name"),
    pytest.param({"ports": [{"port": 80, "name": "Web"}]},
                 INV + f'spec.ports[0].name: Invalid value: "Web": {LABEL_MSG}', id="bad-name"),
    pytest.param({"ports": [{"port": 80, "name": "a"}, {"port": 80, "name": "b"}]},
                 INV + 'spec.ports[1]: Duplicate value: core.ServicePort{Name:"", '
                 'Protocol:"TCP", AppProtocol:(*string)(nil), Port:80, '
                 'TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:""}, NodePort:0}',
                 id="duplicate-port"),
    pytest.param({"ports": [{"port": 80, "targetPort": "8080"}]},
                 INV + 'spec.ports[0].targetPort: Invalid value: "8080": must contain at least '
                 "one letter (a-z)", id="numeric-string-target-port"),
    pytest.param({"ports": [{"port": 80, "nodePort": 30080}]},
                 INV + "spec.ports[0].nodePort: Forbidden: may not be used when `type` is "
                 "'ClusterIP'", id="nodeport-on-clusterip"),
    pytest.param({"ports": P, "type": "Bogus"},
                 INV + 'spec.type: Unsupported value: "Bogus": supported values: "ClusterIP", '
                 '"ExternalName", "LoadBalancer", "NodePort"', id="bad-type"),
    pytest.param({"type": "ExternalName"}, INV + "spec.externalName: Required value",
                 id="externalname-required"),
    pytest.param({"type": "ExternalName", "externalName": "a_b"},
                 INV + 'spec.externalName: Invalid value: "a_b": a lowercase RFC 1123 subdomain '
                 "must consist of lower case alphanumeric characters, '-' or '.', and must "
                 "start and end with an alphanumeric character (e.g. 'example.com', regex used "
                 "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*"
                 "[a-z0-9])?)*')", id="bad-externalname"),
    pytest.param({"type": "ExternalName", "externalName": "x.org", "clusterIP": "10.0.0.5"},
                 INV + "spec.clusterIPs: Forbidden: may not be set for ExternalName services",
                 id="externalname-with-ip"),
    pytest.param({"ports": P, "clusterIP": "10.0.0.300"},
                 INV + 'spec.clusterIPs[0]: Invalid value: "10.0.0.300": must be a valid IP '
                 "address, (e.g. 10.9.8.7 or 2001:db8::ffff)", id="bad-cluster-ip"),
    pytest.param({"ports": P, "type": "NodePort", "clusterIP": "None"},
                 INV + "spec.clusterIPs[0]: Invalid value: \"None\": may not be set to 'None' "
                 "for NodePort services", id="headless-nodeport"),
    pytest.param({"ports": P, "ipFamilyPolicy": "RequireDualStack"},
                 INV + 'spec.ipFamilyPolicy: Invalid value: "RequireDualStack": this cluster is '
                 "not configured for dual-stack services", id="require-dual-stack"),
    pytest.param({"ports": P, "ipFamilies": ["IPv6"]},
                 INV + 'spec.ipFamilies[0]: Invalid value: "IPv6": not configured on this '
                 "cluster", id="ipv6-family"),
    pytest.param({"ports": P, "clusterIP": "fd00::5"},
                 INV + 'spec.clusterIPs[0]: Invalid value: []string{"fd00::5"}: IPv6 is not '
                 "configured on this cluster", id="ipv6-cluster-ip"),
    pytest.param({"ports": P, "ipFamilies": ["IPv4", "IPv6"]},
                 INV + 'spec.ipFamilyPolicy: Invalid value: "SingleStack": must be '
                 "'RequireDualStack' or 'PreferDualStack' when multiple IP families are "
                 "specified", id="two-families-single-stack"),
    pytest.param({"ports": P, "sessionAffinity": "Sticky"},
                 INV + 'spec.sessionAffinity: Unsupported value: "Sticky": supported values: '
                 '"ClientIP", "None"', id="bad-affinity"),
    pytest.param({"ports": P, "sessionAffinity": "ClientIP",
                  "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 86401}}},
                 INV + "spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: "
                 "86401: must be greater than 0 and less than 86400", id="affinity-timeout"),
    pytest.param({"ports": P, "externalIPs": ["127.0.0.1"]},
                 INV + 'spec.externalIPs[0]: Invalid value: "127.0.0.1": may not be in the '
                 "loopback range (127.0.0.0/8, ::1/128)", id="loopback-external-ip"),
    pytest.param({"ports": P, "loadBalancerSourceRanges": ["10.0.0.0/8"]},
                 INV + "spec.LoadBalancerSourceRanges: Forbidden: may only be used when `type` "
                 "is 'LoadBalancer'", id="source-ranges-not-lb"),
    pytest.param({"ports": P, "type": "LoadBalancer", "loadBalancerSourceRanges": ["10.0.0.0"]},
                 INV + 'spec.LoadBalancerSourceRanges[0]: Invalid value: "10.0.0.0": must be a '
                 "valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)", id="bad-cidr"),
    pytest.param({"ports": P, "loadBalancerClass": "example.com/lb"},
                 INV + "spec.loadBalancerClass: Forbidden: may only be used when `type` is "
                 "'LoadBalancer'", id="lb-class-not-lb"),
    pytest.param({"ports": P, "externalTrafficPolicy": "Local"},
                 INV + 'spec.externalTrafficPolicy: Invalid value: "Local": may only be set for '
                 "externally-accessible services", id="etp-on-clusterip"),
    pytest.param({"ports": P, "type": "NodePort", "externalTrafficPolicy": "Global"},
                 INV + 'spec.externalTrafficPolicy: Unsupported value: "Global": supported '
                 'values: "Cluster", "Local"', id="bad-etp"),
    pytest.param({"ports": P, "type": "NodePort", "healthCheckNodePort": 30100},
                 INV + "spec.healthCheckNodePort: Invalid value: 30100: may only be set when "
                 "`type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
                 id="hcnp-not-needed"),
    pytest.param({"ports": P, "allocateLoadBalancerNodePorts": True},
                 INV + "spec.allocateLoadBalancerNodePorts: Forbidden: may only be used when "
                 "`type` is 'LoadBalancer'", id="alloc-lb-nodeports-not-lb"),
    pytest.param({"ports": P, "selector": {"app": "a b"}},
                 INV + 'spec.selector: Invalid value: "a b": a valid label must be an empty '
                 "string or consist of alphanumeric characters, '-', '_' or '.', and must start "
                 "and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or "
                 "'12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?"
                 "[A-Za-z0-9])?')", id="bad-selector"),
]


@pytest.mark.parametrize(("spec", "message"), CASES)
def test_invalid_service(spec: dict[str, Any], message: str) -> None:
    assert error_of(Cluster().create, svc(**spec)) == (422, message)


def nodeport(name: str, *node_ports: int) -> Any:
    ports = [{"port": 80 + i, "name": f"p{i}", "nodePort": n} for i, n in enumerate(node_ports)]
    return svc(name, type="NodePort", ports=ports)


ALLOC_CASES = [
    pytest.param([svc("a", clusterIP="10.0.0.10", ports=P)],
                 svc(clusterIP="10.0.0.10", ports=P),
                 (422, INV + 'spec.clusterIPs: Invalid value: []string{"10.0.0.10"}: failed to '
                  "allocate IP 10.0.0.10: provided IP is already allocated"), id="ip-taken"),
    pytest.param([], svc(clusterIP="10.1.0.5", ports=P),
                 (422, INV + 'spec.clusterIPs: Invalid value: []string{"10.1.0.5"}: failed to '
                  "allocate IP 10.1.0.5: the provided IP (10.1.0.5) is not in the valid range. "
                  "The range of valid IPs is 10.0.0.0/16"),
                 id="ip-out-of-range"),
    pytest.param([], svc(clusterIP="10.0.0.0", ports=P),
                 (422, INV + 'spec.clusterIPs: Invalid value: []string{"10.0.0.0"}: failed to '
                  "allocate IP 10.0.0.0: the provided IP (10.0.0.0) is not in the valid range. "
                  "The range of valid IPs is 10.0.0.0/16"),
                 id="network-address"),
    pytest.param([nodeport("a", 30080)], nodeport("web", 30080),
                 (422, INV + "spec.ports[0].nodePort: Invalid value: 30080: provided port is "
                  "already allocated"), id="nodeport-taken"),
    pytest.param([], nodeport("web", 40000),
                 (422, INV + "spec.ports[0].nodePort: Invalid value: 40000: provided port is not "
                  "in the valid range. The range of valid ports is 30000-32767"),
                 id="nodeport-out-of-range"),
    pytest.param([nodeport("a", 30080)],
                 svc(type="LoadBalancer", externalTrafficPolicy="Local",
                     healthCheckNodePort=30080, ports=P),
                 (500, "Internal error occurred: failed to allocate requested HealthCheck "
                  "NodePort 30080: provided port is already allocated"), id="hcnp-taken"),
]


@pytest.mark.parametrize(("before", "obj", "want"), ALLOC_CASES)
def test_allocation_errors_write_nothing(before: list[Any], obj: Any,
                                         want: tuple[int, str]) -> None:
    cluster = Cluster()
    for other in before:
        cluster.create(other)
    snapshot = dict(cluster.ctx.data)
    assert error_of(cluster.create, obj) == want
    assert cluster.ctx.data == snapshot


def test_exhaustion_on_tiny_ranges() -> None:
    cluster = Cluster(TINY)  # 10.9.0.0/29: 6 usable addresses, 10th address outside
    made = [cluster.create(svc(f"s{i}", ports=P))["spec"]["clusterIP"] for i in range(6)]
    assert made == [f"10.9.0.{i}" for i in range(1, 7)]
    assert error_of(cluster.create, svc("s7", ports=P)) == (
        500, "Internal error occurred: failed to allocate a serviceIP: range is full")
    cluster.delete("s3")
    assert cluster.create(svc("again", ports=P))["spec"]["clusterIP"] == "10.9.0.4"

    ports = Cluster(TINY)
    many = [{"port": 80 + i, "name": f"p{i}"} for i in range(4)]
    assert error_of(ports.create, svc(type="NodePort", ports=many)) == (
        500, "Internal error occurred: failed to allocate a nodePort: range is full")
    assert ports.ips() == {} and ports.ports() == {}
