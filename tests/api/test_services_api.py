"""Issue 3: Services through the real HTTP API, exactly as kube-apiserver 1.33 answers.

Two tables run against one API server (module-scoped, predictable allocation so
every dynamic value is exact): valid Services with the complete stored spec and
the allocation records they own, and invalid Services with the complete 422
`Status` body (message, reason, details.causes with kube's field paths).
Each valid case deletes its Service again, so the next one starts from the same
free ranges (first dynamic ClusterIP 10.0.1.1, first dynamic nodePort 30086:
the upper bands of KEP-3070 / KEP-3668).
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from test_services_support import SVCS, allocations, expect_invalid, svc

from portico.apiserver.resources.services import ServiceConfig
from tests.api.conftest import Api, start_api

pytestmark = pytest.mark.asyncio(loop_scope="module")

WEB = {"app": "web"}
ONE = {"ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack"}
EXT = {"externalTrafficPolicy": "Cluster", "internalTrafficPolicy": "Cluster"}
BASE = {"sessionAffinity": "None", "internalTrafficPolicy": "Cluster"}
P80 = {"port": 80, "protocol": "TCP", "targetPort": 80}
KUBE_IP = {"10.0.0.1": "default/kubernetes"}
OWNER = "default/x"


def cip(ip: str = "10.0.1.1") -> dict[str, Any]:
    return {"clusterIP": ip, "clusterIPs": [ip]}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def api(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Api]:
    path = tmp_path_factory.mktemp("svcapi")
    server, client = await start_api(path, services=ServiceConfig(random_allocation=False))
    try:
        yield client
    finally:
        await client.session.close()
        await server.stop()
        shutil.rmtree(path, ignore_errors=True)


VALID = [
    pytest.param(
        {"selector": WEB, "ports": [{"port": 80}]},
        {"selector": WEB, "ports": [P80], "type": "ClusterIP", **BASE, **ONE, **cip()},
        {"10.0.1.1": OWNER}, {}, id="clusterip-defaults-upper-band"),
    pytest.param(
        {"selector": WEB, "ports": [{"name": "http", "port": 80, "targetPort": "web"}],
         "clusterIP": "10.0.0.50"},
        {"selector": WEB, "ports": [{"name": "http", "port": 80, "targetPort": "web",
                                     "protocol": "TCP"}],
         "type": "ClusterIP", **BASE, **ONE, **cip("10.0.0.50")},
        {"10.0.0.50": OWNER}, {}, id="requested-static-clusterip-named-targetport"),
    pytest.param(
        {"selector": WEB, "ports": [{"port": 80}], "clusterIP": "10.0.200.7",
         "clusterIPs": ["10.0.200.7"]},
        {"selector": WEB, "ports": [P80], "type": "ClusterIP", **BASE, **ONE,
         **cip("10.0.200.7")},
        {"10.0.200.7": OWNER}, {}, id="requested-dynamic-band-clusterip"),
    pytest.param(
        {"clusterIP": "None", "selector": WEB, "ports": [{"port": 80}]},
        {"clusterIP": "None", "clusterIPs": ["None"], "selector": WEB, "ports": [P80],
         "type": "ClusterIP", **BASE, **ONE},
        {}, {}, id="headless"),
    pytest.param(
        {"clusterIP": "None"},
        {"clusterIP": "None", "clusterIPs": ["None"], "type": "ClusterIP", **BASE,
         "ipFamilies": ["IPv4", "IPv6"], "ipFamilyPolicy": "RequireDualStack"},
        {}, {}, id="headless-selectorless-no-ports"),
    pytest.param(
        {"type": "ExternalName", "externalName": "db.example.com."},
        {"type": "ExternalName", "externalName": "db.example.com.", "sessionAffinity": "None"},
        {}, {}, id="externalname-no-clusterip"),
    pytest.param(
        {"type": "NodePort", "selector": WEB, "ports": [{"port": 80, "targetPort": 8080}]},
        {"type": "NodePort", "selector": WEB,
         "ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP", "nodePort": 30086}],
         "sessionAffinity": "None", **EXT, **ONE, **cip()},
        {"10.0.1.1": OWNER}, {"30086": OWNER}, id="nodeport-defaults"),
    pytest.param(
        {"type": "NodePort", "ports": [{"name": "a", "port": 80, "nodePort": 30080},
                                       {"name": "b", "port": 443}]},
        {"type": "NodePort", "ports": [
            {"name": "a", "port": 80, "protocol": "TCP", "targetPort": 80, "nodePort": 30080},
            {"name": "b", "port": 443, "protocol": "TCP", "targetPort": 443, "nodePort": 30086}],
         "sessionAffinity": "None", **EXT, **ONE, **cip()},
        {"10.0.1.1": OWNER}, {"30080": OWNER, "30086": OWNER},
        id="nodeport-per-port-static-and-dynamic"),
    pytest.param(
        {"type": "NodePort", "ports": [{"name": "dns-tcp", "port": 53, "protocol": "TCP"},
                                       {"name": "dns", "port": 53, "protocol": "UDP"}]},
        {"type": "NodePort", "ports": [
            {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53,
             "nodePort": 30086},
            {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53, "nodePort": 30086}],
         "sessionAffinity": "None", **EXT, **ONE, **cip()},
        {"10.0.1.1": OWNER}, {"30086": OWNER}, id="tcp-udp-same-port-share-nodeport"),
    pytest.param(
        {"type": "LoadBalancer", "ports": [{"port": 443}]},
        {"type": "LoadBalancer", "ports": [{"port": 443, "protocol": "TCP", "targetPort": 443,
                                            "nodePort": 30086}],
         "allocateLoadBalancerNodePorts": True, "sessionAffinity": "None", **EXT, **ONE,
         **cip()},
        {"10.0.1.1": OWNER}, {"30086": OWNER}, id="loadbalancer-defaults"),
    pytest.param(
        {"type": "LoadBalancer", "ports": [{"port": 443}], "externalTrafficPolicy": "Local"},
        {"type": "LoadBalancer", "ports": [{"port": 443, "protocol": "TCP", "targetPort": 443,
                                            "nodePort": 30086}],
         "allocateLoadBalancerNodePorts": True, "sessionAffinity": "None",
         "externalTrafficPolicy": "Local", "internalTrafficPolicy": "Cluster",
         "healthCheckNodePort": 30087, **ONE, **cip()},
        {"10.0.1.1": OWNER}, {"30086": OWNER, "30087": OWNER}, id="loadbalancer-local-hc-port"),
    pytest.param(
        {"type": "LoadBalancer", "allocateLoadBalancerNodePorts": False,
         "ports": [{"name": "a", "port": 80}, {"name": "b", "port": 81, "nodePort": 30081}]},
        {"type": "LoadBalancer", "allocateLoadBalancerNodePorts": False, "ports": [
            {"name": "a", "port": 80, "protocol": "TCP", "targetPort": 80},
            {"name": "b", "port": 81, "protocol": "TCP", "targetPort": 81, "nodePort": 30081}],
         "sessionAffinity": "None", **EXT, **ONE, **cip()},
        {"10.0.1.1": OWNER}, {"30081": OWNER}, id="allocate-lb-nodeports-false"),
    pytest.param(
        {"ports": [{"port": 80}], "sessionAffinity": "ClientIP"},
        {"ports": [P80], "sessionAffinity": "ClientIP", "type": "ClusterIP",
         "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 10800}},
         "internalTrafficPolicy": "Cluster", **ONE, **cip()},
        {"10.0.1.1": OWNER}, {}, id="clientip-affinity-default-timeout"),
    pytest.param(
        {"ports": [{"port": 80}], "sessionAffinity": "ClientIP",
         "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 86400}}},
        {"ports": [P80], "sessionAffinity": "ClientIP", "type": "ClusterIP",
         "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 86400}},
         "internalTrafficPolicy": "Cluster", **ONE, **cip()},
        {"10.0.1.1": OWNER}, {}, id="clientip-affinity-max-timeout"),
    pytest.param(
        {"ports": [{"port": 80}], "sessionAffinity": "None",
         "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 60}}},
        {"ports": [P80], "type": "ClusterIP", **BASE, **ONE, **cip()},
        {"10.0.1.1": OWNER}, {}, id="affinity-none-drops-config"),
    pytest.param(
        {"ports": [{"port": 80}], "externalIPs": ["192.0.2.7"],
         "internalTrafficPolicy": "Local"},
        {"ports": [P80], "externalIPs": ["192.0.2.7"], "type": "ClusterIP",
         "sessionAffinity": "None", "externalTrafficPolicy": "Cluster",
         "internalTrafficPolicy": "Local", **ONE, **cip()},
        {"10.0.1.1": OWNER}, {}, id="external-ips-make-etp-default"),
    pytest.param(
        {"type": "LoadBalancer", "ports": [{"port": 80}], "loadBalancerClass": "example.com/lb",
         "loadBalancerSourceRanges": ["203.0.113.0/24"]},
        {"type": "LoadBalancer", "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80,
                                            "nodePort": 30086}],
         "loadBalancerClass": "example.com/lb", "loadBalancerSourceRanges": ["203.0.113.0/24"],
         "allocateLoadBalancerNodePorts": True, "sessionAffinity": "None", **EXT, **ONE,
         **cip()},
        {"10.0.1.1": OWNER}, {"30086": OWNER}, id="loadbalancer-class-source-ranges"),
]


@pytest.mark.parametrize(("spec", "want", "ips", "ports"), VALID)
async def test_valid_service_defaults_and_allocations(
        api: Api, spec: dict[str, Any], want: dict[str, Any], ips: dict[str, str],
        ports: dict[str, str]) -> None:
    reply = await api.post(SVCS, svc("x", **spec))
    try:
        assert reply.status == 201, reply.body
        assert reply.body["spec"] == want
        assert reply.body["status"] == {"loadBalancer": {}}
        assert (await api.get(f"{SVCS}/x")).body["spec"] == want
        assert allocations(api.server) == ({**KUBE_IP, **ips}, ports)
    finally:
        await api.delete(f"{SVCS}/x")
    assert allocations(api.server) == (KUBE_IP, {})


P = [{"port": 80}]
INV, REQ, DUP, FORB, UNSUP = ("FieldValueInvalid", "FieldValueRequired", "FieldValueDuplicate",
                              "FieldValueForbidden", "FieldValueNotSupported")
LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or "
             "'-', and must start and end with an alphanumeric character (e.g. 'my-name',  or "
             "'123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
QNAME_MSG = ("name part must consist of alphanumeric characters, '-', '_' or '.', and must "
             "start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or "
             "'123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")
LABEL_VALUE_MSG = ("a valid label must be an empty string or consist of alphanumeric characters, "
                   "'-', '_' or '.', and must start and end with an alphanumeric character (e.g. "
                   "'MyValue',  or 'my_value',  or '12345', regex used for validation is "
                   "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")
SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                 "characters, '-' or '.', and must start and end with an alphanumeric character "
                 "(e.g. 'example.com', regex used for validation is "
                 "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
PORT_RANGE = "must be between 1 and 65535, inclusive"
ONLY_LB = "Forbidden: may only be used when `type` is 'LoadBalancer'"
DUP_PORT = ('Duplicate value: core.ServicePort{Name:"", Protocol:"TCP", '
            "AppProtocol:(*string)(nil), Port:80, TargetPort:intstr.IntOrString{Type:0, "
            'IntVal:0, StrVal:""}, NodePort:0}')
AFFINITY = "spec.sessionAffinityConfig.clientIP.timeoutSeconds"
CLIENT_IP = {"sessionAffinity": "ClientIP"}


def case(spec: dict[str, Any], *causes: tuple[str, str, str], id: str) -> Any:
    return pytest.param(spec, causes, id=id)


INVALID = [
    # ports
    case({"ports": [{"port": 80, "name": "Http_1"}]},
         ("spec.ports[0].name", INV, f'Invalid value: "Http_1": {LABEL_MSG}'),
         id="port-name-label"),
    case({"ports": [{"port": 80, "name": "a"}, {"port": 81}]},
         ("spec.ports[1].name", REQ, "Required value"), id="port-name-required-with-2-ports"),
    case({"ports": [{"port": 80, "name": "a"}, {"port": 81, "name": "a"}]},
         ("spec.ports[1].name", DUP, 'Duplicate value: "a"'), id="port-name-unique"),
    case({"ports": [{"port": 70000}]},
         ("spec.ports[0].port", INV, f"Invalid value: 70000: {PORT_RANGE}"),
         ("spec.ports[0].targetPort", INV, f"Invalid value: 70000: {PORT_RANGE}"),
         id="port-range-and-defaulted-targetport"),
    case({"ports": [{"port": 80, "targetPort": 65536}]},
         ("spec.ports[0].targetPort", INV, f"Invalid value: 65536: {PORT_RANGE}"),
         id="targetport-range"),
    case({"ports": [{"port": 80, "targetPort": "-web"}]},
         ("spec.ports[0].targetPort", INV,
          'Invalid value: "-web": must not begin or end with a hyphen'), id="targetport-name"),
    case({"ports": [{"port": 80, "targetPort": "abcdefghijklmnop"}]},
         ("spec.ports[0].targetPort", INV,
          'Invalid value: "abcdefghijklmnop": must be no more than 15 characters'),
         id="targetport-name-length"),
    case({"ports": [{"port": 80, "protocol": "HTTP"}]},
         ("spec.ports[0].protocol", UNSUP,
          'Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"'), id="protocol"),
    case({"ports": [{"port": 80, "name": "A", "protocol": "ICMP"}]},
         ("spec.ports[0].name", INV, f'Invalid value: "A": {LABEL_MSG}'),
         ("spec.ports[0].protocol", UNSUP,
          'Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"'),
         id="two-errors-in-kube-order"),
    case({"ports": [{"port": 80, "name": "a"}, {"port": 80, "name": "b"}]},
         ("spec.ports[1]", DUP, DUP_PORT), id="duplicate-port-protocol"),
    case({"ports": [{"port": 80, "appProtocol": "bad proto"}]},
         ("spec.ports[0].appProtocol", INV, f'Invalid value: "bad proto": {QNAME_MSG}'),
         id="app-protocol"),
    case({"selector": {"app": "x"}},
         ("spec.ports", REQ, "Required value"), id="ports-required"),
    case({"ports": [{"port": 80, "nodePort": 30080}]},
         ("spec.ports[0].nodePort", FORB, "Forbidden: may not be used when `type` is 'ClusterIP'"),
         id="nodeport-on-clusterip"),
    # selector, type, external IPs
    case({"ports": P, "selector": {"app": "bad value!"}},
         ("spec.selector", INV, f'Invalid value: "bad value!": {LABEL_VALUE_MSG}'),
         id="selector-value"),
    case({"ports": P, "selector": {"-app": "x"}},
         ("spec.selector", INV, f'Invalid value: "-app": {QNAME_MSG}'), id="selector-key"),
    case({"ports": P, "type": "Foo"},
         ("spec.type", UNSUP, 'Unsupported value: "Foo": supported values: "ClusterIP", '
          '"ExternalName", "LoadBalancer", "NodePort"'), id="type"),
    case({"ports": P, "externalIPs": ["not-an-ip"]},
         ("spec.externalIPs[0]", INV, 'Invalid value: "not-an-ip": must be a valid IP address, '
          "(e.g. 10.9.8.7 or 2001:db8::ffff)"), id="external-ip-syntax"),
    case({"ports": P, "externalIPs": ["192.0.2.1", "127.0.0.1"]},
         ("spec.externalIPs[1]", INV, 'Invalid value: "127.0.0.1": may not be in the loopback '
          "range (127.0.0.0/8, ::1/128)"), id="external-ip-loopback"),
    # ExternalName and cluster IPs
    case({"type": "ExternalName"},
         ("spec.externalName", REQ, "Required value"), id="externalname-required"),
    case({"type": "ExternalName", "externalName": "Bad_Name"},
         ("spec.externalName", INV, f'Invalid value: "Bad_Name": {SUBDOMAIN_MSG}'),
         id="externalname-subdomain"),
    case({"type": "ExternalName", "externalName": "db.example.com", "clusterIP": "10.0.0.50"},
         ("spec.clusterIPs", FORB, "Forbidden: may not be set for ExternalName services"),
         id="externalname-with-clusterip"),
    case({"type": "NodePort", "ports": P, "clusterIP": "None"},
         ("spec.clusterIPs[0]", INV,
          "Invalid value: \"None\": may not be set to 'None' for NodePort services"),
         id="headless-nodeport"),
    case({"ports": P, "clusterIP": "10.0.0.300"},
         ("spec.clusterIPs[0]", INV, 'Invalid value: "10.0.0.300": must be a valid IP address, '
          "(e.g. 10.9.8.7 or 2001:db8::ffff)"), id="clusterip-syntax"),
    case({"ports": P, "clusterIP": "10.0.0.50", "clusterIPs": ["10.0.0.51"]},
         ("spec.clusterIPs", INV,
          'Invalid value: []string{"10.0.0.51"}: first value must match `clusterIP`'),
         id="clusterips-mismatch"),
    case({"ports": P, "clusterIP": "10.0.0.1"},
         ("spec.clusterIPs", INV, 'Invalid value: []string{"10.0.0.1"}: failed to allocate IP '
          "10.0.0.1: provided IP is already allocated"), id="clusterip-taken"),
    # dual-stack requests on this IPv4-only cluster
    case({"ports": P, "ipFamilyPolicy": "RequireDualStack"},
         ("spec.ipFamilyPolicy", INV, 'Invalid value: "RequireDualStack": this cluster is not '
          "configured for dual-stack services"), id="require-dual-stack"),
    case({"ports": P, "ipFamilies": ["IPv6"]},
         ("spec.ipFamilies[0]", INV, 'Invalid value: "IPv6": not configured on this cluster'),
         id="ipv6-family"),
    case({"ports": P, "ipFamilies": ["IPv4", "IPv6"], "ipFamilyPolicy": "PreferDualStack"},
         ("spec.ipFamilies[1]", INV, 'Invalid value: "IPv6": not configured on this cluster'),
         id="prefer-dual-stack-two-families"),
    case({"ports": P, "ipFamilies": ["IPv4", "IPv6"]},
         ("spec.ipFamilyPolicy", INV, "Invalid value: \"SingleStack\": must be "
          "'RequireDualStack' or 'PreferDualStack' when multiple IP families are specified"),
         id="single-stack-two-families"),
    case({"ports": P, "clusterIP": "10.0.0.50", "clusterIPs": ["10.0.0.50", "2001:db8::1"],
          "ipFamilyPolicy": "PreferDualStack"},
         ("spec.clusterIPs[1]", INV, 'Invalid value: []string{"10.0.0.50", "2001:db8::1"}: '
          "IPv6 is not configured on this cluster"), id="ipv6-cluster-ip"),
    case({"ports": P, "ipFamilyPolicy": "Both"},
         ("spec.ipFamilyPolicy", UNSUP, 'Unsupported value: "Both": supported values: '
          '"PreferDualStack", "RequireDualStack", "SingleStack"'), id="ip-family-policy"),
    # session affinity
    case({"ports": P, **CLIENT_IP, "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 0}}},
         (AFFINITY, INV, "Invalid value: 0: must be greater than 0 and less than 86400"),
         id="affinity-timeout-0"),
    case({"ports": P, **CLIENT_IP,
          "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 86401}}},
         (AFFINITY, INV, "Invalid value: 86401: must be greater than 0 and less than 86400"),
         id="affinity-timeout-86401"),
    case({"ports": P, "sessionAffinity": "Cookie"},
         ("spec.sessionAffinity", UNSUP,
          'Unsupported value: "Cookie": supported values: "ClientIP", "None"'), id="affinity"),
    # LoadBalancer-only fields
    case({"ports": P, "loadBalancerSourceRanges": ["10.0.0.0/8"]},
         ("spec.LoadBalancerSourceRanges", FORB, ONLY_LB), id="source-ranges-not-lb"),
    case({"type": "LoadBalancer", "ports": P, "loadBalancerSourceRanges": ["10.0.0.0/33"]},
         ("spec.LoadBalancerSourceRanges[0]", INV, 'Invalid value: "10.0.0.0/33": must be a '
          "valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"), id="source-ranges-cidr"),
    case({"ports": P, "loadBalancerClass": "example.com/lb"},
         ("spec.loadBalancerClass", FORB, ONLY_LB), id="lb-class-not-lb"),
    case({"type": "LoadBalancer", "ports": P, "loadBalancerClass": "Bad Class"},
         ("spec.loadBalancerClass", INV, f'Invalid value: "Bad Class": {QNAME_MSG}'),
         id="lb-class-qualified-name"),
    case({"type": "NodePort", "ports": P, "allocateLoadBalancerNodePorts": False},
         ("spec.allocateLoadBalancerNodePorts", FORB, ONLY_LB),
         id="allocate-lb-nodeports-not-lb"),
    # traffic policies and the health-check port
    case({"ports": P, "externalTrafficPolicy": "Local"},
         ("spec.externalTrafficPolicy", INV,
          'Invalid value: "Local": may only be set for externally-accessible services'),
         id="etp-on-clusterip"),
    case({"type": "NodePort", "ports": P, "externalTrafficPolicy": "Foo"},
         ("spec.externalTrafficPolicy", UNSUP,
          'Unsupported value: "Foo": supported values: "Cluster", "Local"'), id="etp-value"),
    case({"ports": P, "internalTrafficPolicy": "Foo"},
         ("spec.internalTrafficPolicy", UNSUP,
          'Unsupported value: "Foo": supported values: "Cluster", "Local"'), id="itp-value"),
    case({"type": "LoadBalancer", "ports": P, "healthCheckNodePort": 30500},
         ("spec.healthCheckNodePort", INV, "Invalid value: 30500: may only be set when `type` "
          "is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"), id="hc-port-not-local"),
    case({"type": "NodePort", "ports": P, "externalTrafficPolicy": "Local",
          "healthCheckNodePort": 30500},
         ("spec.healthCheckNodePort", INV, "Invalid value: 30500: may only be set when `type` "
          "is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"), id="hc-port-nodeport"),
    case({"ports": P, "trafficDistribution": "Anywhere"},
         ("spec.trafficDistribution", UNSUP,
          'Unsupported value: "Anywhere": supported values: "PreferClose"'),
         id="traffic-distribution"),
    # nodePort allocation errors (422 from the allocator)
    case({"type": "NodePort", "ports": [{"port": 80, "nodePort": 40000}]},
         ("spec.ports[0].nodePort", INV, "Invalid value: 40000: provided port is not in the "
          "valid range. The range of valid ports is 30000-32767"), id="nodeport-out-of-range"),
    case({"type": "NodePort", "ports": [{"name": "a", "port": 80, "nodePort": 30080},
                                        {"name": "b", "port": 81, "protocol": "UDP",
                                         "nodePort": 30080}]},
         ("spec.ports[1].nodePort", INV,
          "Invalid value: 30080: provided port is already allocated"),
         id="nodeport-reused-by-other-port-number"),
    # the bitmap allocator's ErrNotInRange, naming the range (no ServiceCIDR API)
    case({"ports": P, "clusterIP": "10.1.0.5"},
         ("spec.clusterIPs", INV, 'Invalid value: []string{"10.1.0.5"}: failed to allocate IP '
          "10.1.0.5: the provided IP (10.1.0.5) is not in the valid range. The range of valid "
          "IPs is 10.0.0.0/16"),
         id="clusterip-out-of-range"),
    # kube-apiserver allocates before it validates: the allocator's error, not `Duplicate`
    pytest.param(
        {"type": "NodePort", "ports": [{"name": "a", "port": 80, "nodePort": 30080},
                                       {"name": "b", "port": 81, "nodePort": 30080}]},
        (("spec.ports[1].nodePort", INV,
          "Invalid value: 30080: provided port is already allocated"),),
        id="nodeport-twice-same-protocol"),
]


@pytest.mark.parametrize(("spec", "causes"), INVALID)
async def test_invalid_service(api: Api, spec: dict[str, Any],
                               causes: tuple[tuple[str, str, str], ...]) -> None:
    reply = await api.post(SVCS, svc("x", **spec))
    assert (reply.status, reply.body) == (422, expect_invalid("x", *causes))
    assert (await api.get(f"{SVCS}/x")).status == 404
    assert allocations(api.server) == (KUBE_IP, {})

