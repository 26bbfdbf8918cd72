"""The shared views: parsed once, tolerant of missing, empty and odd fields."""

from __future__ import annotations

import dataclasses

import pytest

from portico.model.core import Node, Pod, Service, ServicePort
from portico.model.discovery import Endpoint, EndpointPort, EndpointSlice
from portico.model.meta import CustomObject, ObjectMeta, OwnerReference
from portico.model.networking import Ingress, IngressBackend
from portico.model.vocabulary import (
    AddressType,
    ConditionStatus,
    DNSPolicy,
    IPFamily,
    NodeAddressType,
    PathType,
    PodPhase,
    Protocol,
    RestartPolicy,
    ServiceType,
    SessionAffinity,
    TaintEffect,
    TrafficPolicy,
)

KINDS = [ObjectMeta, Service, Pod, Node, EndpointSlice, Ingress, CustomObject]


@pytest.mark.parametrize("kind", [pytest.param(k, id=k.__name__) for k in KINDS])
@pytest.mark.parametrize("obj", [
    pytest.param({}, id="empty"),
    pytest.param({"metadata": None, "spec": None, "status": None}, id="nulls"),
    pytest.param({"metadata": [], "spec": "x", "status": 3, "endpoints": {}, "ports": "80"},
                 id="wrong-types"),
])
def test_parsing_never_raises(kind, obj) -> None:
    view = kind.from_obj(obj)
    assert dataclasses.is_dataclass(view)
    hash(view)  # frozen and hashable even with maps inside


def test_views_are_frozen() -> None:
    svc = Service.from_obj({})
    with pytest.raises(dataclasses.FrozenInstanceError):
        svc.type = ServiceType.NODE_PORT  # type: ignore[misc]


def test_object_meta() -> None:
    meta = ObjectMeta.from_obj({"metadata": {
        "name": "web", "namespace": "prod", "uid": "u1", "resourceVersion": "42",
        "generation": 3, "labels": {"app": "web", "bad": 5}, "annotations": None,
        "deletionTimestamp": "2026-01-01T00:00:00Z", "finalizers": ["a", 1],
        "ownerReferences": [
            {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1", "uid": "r1"},
            {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "d1",
             "controller": True, "blockOwnerDeletion": True},
            "junk",
        ]}})
    assert (meta.key, meta.uid, meta.resource_version, meta.generation) == (
        "prod/web", "u1", "42", 3)
    assert meta.labels == {"app": "web"}
    assert meta.annotations == {}
    assert meta.deleting and meta.finalizers == ("a",)
    assert len(meta.owner_references) == 2
    assert meta.controller_ref() == OwnerReference("apps/v1", "Deployment", "web", "d1", True,
                                                   True)


def test_object_meta_missing_fields() -> None:
    meta = ObjectMeta.from_obj({"metadata": {"name": "node-1", "deletionTimestamp": ""}})
    assert (meta.key, meta.namespace, meta.generation, meta.deleting) == ("node-1", "", 0, False)
    assert meta.controller_ref() is None


def test_service_defaults() -> None:
    svc = Service.from_obj({"metadata": {"name": "a"}, "spec": {"ports": [{"port": 80}]}})
    assert svc.type is ServiceType.CLUSTER_IP
    assert svc.selector is None
    assert svc.session_affinity is SessionAffinity.NONE
    assert svc.affinity_timeout_seconds is None
    assert svc.external_traffic_policy is TrafficPolicy.CLUSTER
    assert svc.internal_traffic_policy is TrafficPolicy.CLUSTER
    assert svc.ports == (ServicePort(port=80),)
    assert svc.ports[0].protocol is Protocol.TCP
    assert not svc.headless and not svc.externally_reachable


def test_service_full() -> None:
    svc = Service.from_obj({
        "metadata": {"name": "a", "namespace": "ns"},
        "spec": {
            "type": "LoadBalancer", "clusterIP": "10.0.0.1", "clusterIPs": ["10.0.0.1"],
            "ipFamilies": ["IPv4"], "selector": {}, "externalIPs": ["192.0.2.1"],
            "sessionAffinity": "ClientIP",
            "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 60}},
            "externalTrafficPolicy": "Local", "healthCheckNodePort": 31000,
            "loadBalancerIP": "", "loadBalancerClass": "x/y",
            "ports": [{"name": "dns", "protocol": "UDP", "port": "53", "targetPort": "dns",
                       "nodePort": 30053, "appProtocol": "dns"},
                      {"port": 80, "targetPort": "8080", "protocol": "QUIC"}],
        },
        "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.9"}, {"hostname": "h"}]}},
    })
    assert svc.type is ServiceType.LOAD_BALANCER and svc.externally_reachable
    assert svc.ip_families == (IPFamily.IPV4,)
    assert svc.selector == {}
    assert (svc.session_affinity, svc.affinity_timeout_seconds) == (SessionAffinity.CLIENT_IP, 60)
    assert svc.external_traffic_policy is TrafficPolicy.LOCAL
    assert (svc.load_balancer_ip, svc.load_balancer_class) == (None, "x/y")
    assert svc.ports == (
        ServicePort("dns", Protocol.UDP, 53, "dns", 30053, "dns"),
        ServicePort("", Protocol.TCP, 80, 8080),
    )
    assert svc.load_balancer_ingress_ips == ("203.0.113.9",)


def test_headless_service() -> None:
    assert Service.from_obj({"spec": {"clusterIP": "None"}}).headless


def test_pod() -> None:
    pod = Pod.from_obj({
        "metadata": {"name": "p", "namespace": "ns"},
        "spec": {"nodeName": "node-1", "restartPolicy": "Never", "hostNetwork": True,
                 "containers": [{"name": "c", "image": "busybox", "imagePullPolicy": "Always",
                                 "ports": [{"containerPort": 80, "protocol": "UDP"}]}],
                 "initContainers": [{"name": "side", "restartPolicy": "Always"}]},
        "status": {"phase": "Running", "podIP": "10.1.0.5", "podIPs": [{"ip": "10.1.0.5"}],
                   "conditions": [{"type": "Ready", "status": "True"},
                                  {"type": "PodScheduled", "status": "maybe"}]},
    })
    assert (pod.node_name, pod.host_network, pod.restart_policy) == (
        "node-1", True, RestartPolicy.NEVER)
    assert pod.dns_policy is DNSPolicy.CLUSTER_FIRST
    assert pod.phase is PodPhase.RUNNING and pod.ready and not pod.terminated
    assert pod.conditions[1].status is ConditionStatus.UNKNOWN
    assert pod.containers[0].ports[0].protocol is Protocol.UDP
    assert pod.containers[0].restart_policy is None
    assert pod.init_containers[0].restart_policy is RestartPolicy.ALWAYS
    assert pod.pod_ips == ("10.1.0.5",)


def test_pod_without_status() -> None:
    pod = Pod.from_obj({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c"}]}})
    assert (pod.phase, pod.ready, pod.pod_ip) == (PodPhase.PENDING, False, "")
    assert pod.containers[0].image_pull_policy is None


def test_node() -> None:
    node = Node.from_obj({
        "metadata": {"name": "node-1"},
        "spec": {"podCIDR": "10.1.0.0/24", "unschedulable": True,
                 "taints": [{"key": "k", "effect": "NoSchedule"}, {"key": "x", "effect": "?"}]},
        "status": {"addresses": [{"type": "Hostname", "address": "node-1"},
                                 {"type": "InternalIP", "address": "192.168.0.2"},
                                 {"type": "Weird", "address": "x"}],
                   "conditions": [{"type": "Ready", "status": "False"}]},
    })
    assert node.pod_cidrs == ("10.1.0.0/24",) and node.unschedulable
    assert [(t.key, t.effect) for t in node.taints] == [("k", TaintEffect.NO_SCHEDULE)]
    assert node.address(NodeAddressType.INTERNAL_IP) == "192.168.0.2"
    assert node.address(NodeAddressType.EXTERNAL_IP) is None
    assert len(node.addresses) == 2 and not node.ready


def test_node_without_status_is_not_ready() -> None:
    node = Node.from_obj({"metadata": {"name": "n"}})
    assert (node.ready, node.pod_cidrs, node.addresses) == (False, (), ())


@pytest.mark.parametrize(("conditions", "expected"), [
    pytest.param(None, (True, True, False), id="absent-means-ready"),
    pytest.param({}, (True, True, False), id="empty-means-ready"),
    pytest.param({"ready": False}, (False, False, False), id="serving-follows-ready"),
    pytest.param({"ready": False, "serving": True, "terminating": True}, (False, True, True),
                 id="serving-terminating"),
    pytest.param({"ready": "yes"}, (True, True, False), id="odd-value-means-unknown"),
])
def test_endpoint_conditions(conditions, expected) -> None:
    ep = Endpoint.from_obj({"addresses": ["10.1.0.5"], "conditions": conditions})
    assert (ep.ready, ep.serving, ep.terminating) == expected


def test_endpoint_slice() -> None:
    es = EndpointSlice.from_obj({
        "metadata": {"name": "a-x", "labels": {"kubernetes.io/service-name": "a"}},
        "addressType": "IPv6",
        "endpoints": [{"addresses": ["fd00::1"], "nodeName": "node-1", "zone": "z"}],
        "ports": [{"name": "http", "port": 8080}, {"protocol": "UDP"}],
    })
    assert es.service_name == "a" and es.address_type is AddressType.IPV6
    assert es.endpoints[0].node_name == "node-1"
    assert es.ports == (EndpointPort("http", Protocol.TCP, 8080), EndpointPort("", Protocol.UDP))


def test_endpoint_slice_without_service() -> None:
    es = EndpointSlice.from_obj({"metadata": {"name": "x"}})
    assert (es.service_name, es.address_type, es.endpoints) == (None, AddressType.IPV4, ())


def test_ingress() -> None:
    ing = Ingress.from_obj({
        "metadata": {"name": "i", "namespace": "ns"},
        "spec": {
            "ingressClassName": "portico",
            "defaultBackend": {"resource": {"kind": "Bucket", "name": "b"}},
            "rules": [{"host": "a.example", "http": {"paths": [
                {"path": "/api", "pathType": "Prefix",
                 "backend": {"service": {"name": "api", "port": {"number": 80}}}},
                {"backend": {"service": {"name": "web", "port": {"name": "http"}}}},
            ]}}, {"host": "b.example"}],
            "tls": [{"hosts": ["a.example"], "secretName": "tls"}],
        },
    })
    assert ing.ingress_class_name == "portico"
    assert ing.default_backend == IngressBackend(resource={"kind": "Bucket", "name": "b"})
    first, second = ing.rules[0].paths
    assert (first.path, first.path_type, first.backend.service_name,
            first.backend.port_number) == ("/api", PathType.PREFIX, "api", 80)
    assert (second.path, second.path_type, second.backend.port_name) == (
        "", PathType.IMPLEMENTATION_SPECIFIC, "http")
    assert ing.rules[1].paths == ()
    assert ing.tls[0].secret_name == "tls"


def test_custom_object() -> None:
    obj = CustomObject.from_obj({
        "apiVersion": "example.com/v1", "kind": "Widget",
        "metadata": {"name": "w", "namespace": "ns"}, "spec": {"size": 3},
    })
    assert (obj.group, obj.version, obj.kind) == ("example.com", "v1", "Widget")
    assert (obj.spec, obj.status, obj.metadata.key) == ({"size": 3}, {}, "ns/w")
    core = CustomObject.from_obj({"apiVersion": "v1", "kind": "ConfigMap"})
    assert (core.group, core.version) == ("", "v1")
