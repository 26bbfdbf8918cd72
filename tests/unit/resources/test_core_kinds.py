"""Namespaces, Nodes, Events, Endpoints, EndpointSlices, ConfigMaps, Secrets, Leases."""

from __future__ import annotations

import datetime

import pytest

from portico.apiserver.resources import ALL_RESOURCES, find
from portico.apiserver.resources.configmaps import CONFIGMAPS
from portico.apiserver.resources.endpoints import ENDPOINTS
from portico.apiserver.resources.endpointslices import ENDPOINTSLICES
from portico.apiserver.resources.events import EVENTS
from portico.apiserver.resources.leases import LEASES
from portico.apiserver.resources.namespaces import NAMESPACES
from portico.apiserver.resources.nodes import NODES
from portico.apiserver.resources.secrets import SECRETS

NOW = datetime.datetime(2025, 1, 1, 12, 0, 0, tzinfo=datetime.UTC)
META = {"name": "x", "namespace": "default", "creationTimestamp": "2025-01-01T11:59:00Z"}


def test_namespace_defaults_and_create() -> None:
    ns = {"metadata": {"name": "team-a"}}
    NAMESPACES.strategy.default(ns)
    NAMESPACES.strategy.prepare_for_create(ns)
    assert ns == {
        "metadata": {"name": "team-a", "labels": {"kubernetes.io/metadata.name": "team-a"}},
        "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"},
    }
    assert NAMESPACES.strategy.name_validation == "label"
    assert "deletecollection" not in NAMESPACES.verbs


@pytest.mark.parametrize(("node", "cells"), [
    pytest.param(
        {"metadata": {"name": "n1", "labels": {"node-role.kubernetes.io/control-plane": ""}},
         "status": {"conditions": [{"type": "Ready", "status": "True"}],
                    "addresses": [{"type": "InternalIP", "address": "10.0.0.1"}],
                    "nodeInfo": {"kubeletVersion": "v1.33.1", "osImage": "Ubuntu",
                                 "kernelVersion": "6.8", "containerRuntimeVersion": "portico"}}},
        ["n1", "Ready", "control-plane", "<unknown>", "v1.33.1", "10.0.0.1", "<none>", "Ubuntu",
         "6.8", "portico"],
        id="ready"),
    pytest.param(
        {"metadata": {"name": "n2"}, "spec": {"unschedulable": True},
         "status": {"conditions": [{"type": "Ready", "status": "False"}]}},
        ["n2", "NotReady,SchedulingDisabled", "<none>", "<unknown>", "", "<none>", "<none>",
         "<unknown>", "<unknown>", "<unknown>"],
        id="cordoned"),
])
def test_node_cells(node: dict, cells: list) -> None:
    assert NODES.table.cells(node, NOW) == cells


def test_node_pod_cidr_immutable() -> None:
    old = {"metadata": {"name": "n"}, "spec": {"podCIDR": "10.1.0.0/24"}}
    new = {"metadata": {"name": "n"}, "spec": {"podCIDR": "10.2.0.0/24"}}
    NODES.strategy.default(old)
    NODES.strategy.default(new)
    assert [e.message() for e in NODES.strategy.validate_update(new, old)] == [
        'spec.podCIDRs: Forbidden: node updates may not change podCIDR except from "" to valid'
    ]


def test_event_cells() -> None:
    event = {
        "metadata": {"name": "web.1", "namespace": "default"},
        "involvedObject": {"kind": "Pod", "name": "web", "namespace": "default"},
        "reason": "Pulled", "message": " ok \n", "type": "Normal",
        "source": {"component": "kubelet", "host": "n1"},
        "firstTimestamp": "2025-01-01T11:50:00Z", "lastTimestamp": "2025-01-01T11:58:00Z",
        "count": 2,
    }
    assert EVENTS.table.cells(event, NOW) == [
        "2m", "Normal", "Pulled", "pod/web", "", "kubelet, n1", "ok", "10m", 2, "web.1"
    ]
    assert [c.name for c in EVENTS.table.columns] == [
        "Last Seen", "Type", "Reason", "Object", "Subobject", "Source", "Message", "First Seen",
        "Count", "Name",
    ]
    assert EVENTS.field_selectors["involvedObject.kind"](event) == "Pod"
    assert EVENTS.field_selectors["source"](event) == "kubelet"


@pytest.mark.parametrize(("subsets", "text"), [
    pytest.param([], "<none>", id="none"),
    pytest.param([{"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}],
                   "ports": [{"port": 80}]}], "10.0.0.1:80,10.0.0.2:80", id="two"),
    pytest.param([{"addresses": [{"ip": f"10.0.0.{i}"} for i in range(1, 6)],
                   "ports": [{"port": 80}]}],
                 "10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 2 more...", id="more"),
])
def test_endpoints_cells(subsets: list, text: str) -> None:
    assert ENDPOINTS.table.cells({"metadata": META, "subsets": subsets}, NOW) == ["x", text, "60s"]


def test_endpoints_validate() -> None:
    ep = {"metadata": META, "subsets": [{"addresses": [{"ip": "127.0.0.1"}],
                                         "ports": [{"port": 80}]}]}
    ENDPOINTS.strategy.default(ep)
    assert [e.message() for e in ENDPOINTS.strategy.validate(ep)] == [
        'subsets[0].addresses[0].ip: Invalid value: "127.0.0.1": may not be in the loopback '
        "range (127.0.0.0/8, ::1/128)"
    ]


def test_endpointslice_defaults_cells_validation() -> None:
    eps = {"metadata": META, "addressType": "IPv4", "ports": [{"port": 80}],
           "endpoints": [{"addresses": ["10.0.0.1"]}, {"addresses": ["fd00::1"]}]}
    ENDPOINTSLICES.strategy.default(eps)
    assert eps["ports"] == [{"port": 80, "name": "", "protocol": "TCP"}]
    assert ENDPOINTSLICES.table.cells(eps, NOW) == ["x", "IPv4", "80", "10.0.0.1,fd00::1", "60s"]
    assert [e.message() for e in ENDPOINTSLICES.strategy.validate(eps)] == [
        'endpoints[1].addresses[0]: Invalid value: "fd00::1": must be a valid IPv4 address'
    ]
    empty = {"metadata": META, "addressType": "IPv4"}
    assert ENDPOINTSLICES.table.cells(empty, NOW)[2:4] == ["<unset>", "<unset>"]


def test_configmap_keys_and_cells() -> None:
    cm = {"metadata": META, "data": {"a b": "1", "ok": "2"}, "binaryData": {"ok": "MQ=="}}
    assert [e.message() for e in CONFIGMAPS.strategy.validate(cm)] == [
        "data[a b]: Invalid value: \"a b\": a valid config key must consist of alphanumeric "
        "characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex "
        "used for validation is '[-._a-zA-Z0-9]+')",
        'data[ok]: Invalid value: "ok": duplicate of key present in binaryData',
        'binaryData[ok]: Invalid value: "ok": duplicate of key present in data',
    ]
    assert CONFIGMAPS.table.cells(cm, NOW) == ["x", 3, "60s"]


def test_secret_string_data_and_type() -> None:
    secret = {"metadata": META, "stringData": {"user": "admin"}}
    SECRETS.strategy.default(secret)
    assert secret == {"metadata": META, "data": {"user": "YWRtaW4="}, "type": "Opaque"}
    assert SECRETS.table.cells(secret, NOW) == ["x", "Opaque", 1, "60s"]
    tls = {"metadata": META, "type": "kubernetes.io/tls", "data": {}}
    assert [e.message() for e in SECRETS.strategy.validate(tls)] == [
        "data[tls.crt]: Required value", "data[tls.key]: Required value"
    ]
    new = dict(secret, type="kubernetes.io/tls", data={"tls.crt": "", "tls.key": ""})
    assert [e.message() for e in SECRETS.strategy.validate_update(new, secret)] == [
        'type: Invalid value: "kubernetes.io/tls": field is immutable'
    ]


def test_lease() -> None:
    lease = {"metadata": META, "spec": {"holderIdentity": "a", "leaseDurationSeconds": 0}}
    assert [e.message() for e in LEASES.strategy.validate(lease)] == [
        "spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"
    ]
    assert LEASES.table.cells(lease, NOW) == ["x", "a", "60s"]


@pytest.mark.parametrize(("group", "plural", "short"), [
    pytest.param("", "pods", ("po",), id="pods"),
    pytest.param("", "services", ("svc",), id="services"),
    pytest.param("", "namespaces", ("ns",), id="namespaces"),
    pytest.param("", "nodes", ("no",), id="nodes"),
    pytest.param("", "endpoints", ("ep",), id="endpoints"),
    pytest.param("", "events", ("ev",), id="events"),
    pytest.param("", "configmaps", ("cm",), id="configmaps"),
    pytest.param("", "secrets", (), id="secrets"),
    pytest.param("", "serviceaccounts", ("sa",), id="serviceaccounts"),
    pytest.param("apps", "deployments", ("deploy",), id="deployments"),
    pytest.param("apps", "replicasets", ("rs",), id="replicasets"),
    pytest.param("discovery.k8s.io", "endpointslices", (), id="endpointslices"),
    pytest.param("networking.k8s.io", "ingresses", ("ing",), id="ingresses"),
    pytest.param("networking.k8s.io", "ingressclasses", (), id="ingressclasses"),
    pytest.param("networking.k8s.io", "networkpolicies", ("netpol",), id="networkpolicies"),
    pytest.param("coordination.k8s.io", "leases", (), id="leases"),
    pytest.param("apiextensions.k8s.io", "customresourcedefinitions", ("crd", "crds"),
                 id="customresourcedefinitions"),
    pytest.param("", "persistentvolumes", ("pv",), id="persistentvolumes"),
    pytest.param("", "persistentvolumeclaims", ("pvc",), id="persistentvolumeclaims"),
    pytest.param("storage.k8s.io", "storageclasses", ("sc",), id="storageclasses"),
])
def test_find(group: str, plural: str, short: tuple[str, ...]) -> None:
    rt = find(group, "v1", plural)
    assert rt is not None
    assert rt.short_names == short


def test_all_resources_unique_and_columns_match_cells() -> None:
    assert len({(r.group, r.version, r.plural) for r in ALL_RESOURCES}) == len(ALL_RESOURCES) \
        == 44
    stored = [r for r in ALL_RESOURCES if r.storage_version]
    assert [(r.group, r.version, r.plural) for r in stored] == [
        ("autoscaling", "v1", "horizontalpodautoscalers")]  # one kind served twice
    for rt in ALL_RESOURCES:
        obj = {"metadata": {"name": "x", "namespace": "default"}}
        assert len(rt.table.cells(obj, NOW)) == len(rt.table.columns), rt.plural
