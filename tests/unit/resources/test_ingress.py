"""Ingress and IngressClass validation and cells (`pkg/apis/networking/validation`)."""

from __future__ import annotations

import copy
import datetime

import pytest

from portico.apiserver.resources.ingressclasses import INGRESSCLASSES
from portico.apiserver.resources.ingresses import INGRESSES

NOW = datetime.datetime(2025, 1, 1, 12, 0, 0, tzinfo=datetime.UTC)
BACKEND = {"service": {"name": "web", "port": {"number": 80}}}


def _ing(paths: list[dict], host: str = "shop.example.com", **spec) -> dict:
    return {
        "metadata": {"name": "shop", "namespace": "default",
                     "creationTimestamp": "2025-01-01T11:00:00Z"},
        "spec": {"rules": [{"host": host, "http": {"paths": paths}}], **spec},
    }


@pytest.mark.parametrize(("obj", "want"), [
    pytest.param(_ing([{"path": "/", "pathType": "Prefix", "backend": BACKEND}]), [], id="ok"),
    pytest.param(
        _ing([{"path": "/", "backend": BACKEND}]),
        ["spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified"],
        id="no-path-type"),
    pytest.param(
        _ing([{"path": "api", "pathType": "Exact", "backend": BACKEND}]),
        ['spec.rules[0].http.paths[0].path: Invalid value: "api": must be an absolute path'],
        id="relative"),
    pytest.param(
        _ing([{"path": "/a//b", "pathType": "Prefix", "backend": BACKEND}]),
        ["spec.rules[0].http.paths[0].path: Invalid value: \"/a//b\": must not contain '//'"],
        id="double-slash"),
    pytest.param(
        _ing([{"path": "/", "pathType": "Regex", "backend": BACKEND}]),
        ['spec.rules[0].http.paths[0].pathType: Unsupported value: "Regex": supported values: '
         '"Exact", "ImplementationSpecific", "Prefix"'],
        id="bad-path-type"),
    pytest.param(
        _ing([{"path": "/", "pathType": "Prefix", "backend": BACKEND}], host="10.0.0.1"),
        ['spec.rules[0].host: Invalid value: "10.0.0.1": must be a DNS name, not an IP address'],
        id="ip-host"),
    pytest.param(
        _ing([{"path": "/", "pathType": "Prefix", "backend": BACKEND}], host="*.*.example.com"),
        ["spec.rules[0].host: Invalid value: \"*.*.example.com\": a wildcard DNS-1123 subdomain "
         "must start with '*.', followed by a valid DNS subdomain, which must consist of lower "
         "case alphanumeric characters, '-' or '.' and end with an alphanumeric character (e.g. "
         "'*.example.com', regex used for validation is "
         "'\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"],
        id="bad-wildcard"),
    pytest.param(
        _ing([{"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web"}}}]),
        ["spec.rules[0].http.paths[0].backend: Required value: port name or number is required"],
        id="no-port"),
    pytest.param(
        _ing([{"path": "/", "pathType": "Prefix", "backend": {}}]),
        ['spec.rules[0].http.paths[0].backend: Invalid value: "": resource or service backend '
         "is required"],
        id="no-backend"),
    pytest.param(
        {"metadata": {"name": "x"}, "spec": {}},
        ["spec: Invalid value: []networking.IngressRule(nil): either `defaultBackend` or "
         "`rules` must be specified"],
        id="empty-spec"),
])
def test_ingress_validate(obj: dict, want: list[str]) -> None:
    assert [e.message() for e in INGRESSES.strategy.validate(obj)] == want


def test_ingress_cells_and_status() -> None:
    obj = _ing([{"path": "/", "pathType": "Prefix", "backend": BACKEND}],
               ingressClassName="haproxy", tls=[{"hosts": ["shop.example.com"]}])
    obj["spec"]["rules"] += [{"host": f"h{i}.example.com"} for i in range(3)]
    obj["status"] = {"loadBalancer": {"ingress": [{"ip": "10.0.0.9"}, {"ip": "10.0.0.8"}]}}
    assert INGRESSES.table.cells(obj, NOW) == [
        "shop", "haproxy", "shop.example.com,h0.example.com,h1.example.com + 1 more...",
        "10.0.0.8,10.0.0.9", "80, 443", "60m",
    ]
    created = copy.deepcopy(obj)
    INGRESSES.strategy.prepare_for_create(created)
    assert created["status"] == {"loadBalancer": {}}


def test_ingress_default_cells() -> None:
    obj = {"metadata": {"name": "x"}, "spec": {"defaultBackend": BACKEND}}
    assert INGRESSES.table.cells(obj, NOW) == ["x", "<none>", "*", "", "80", "<unknown>"]


def test_ingressclass() -> None:
    cls = {"metadata": {"name": "haproxy"},
           "spec": {"controller": "portico.dev/ingress",
                    "parameters": {"apiGroup": "k8s.example.com", "kind": "Params", "name": "p"}}}
    INGRESSCLASSES.strategy.default(cls)
    assert cls["spec"]["parameters"]["scope"] == "Cluster"
    assert INGRESSCLASSES.strategy.validate(cls) == []
    assert INGRESSCLASSES.table.cells(cls, NOW) == [
        "haproxy", "portico.dev/ingress", "Params.k8s.example.com/p", "<unknown>"
    ]
    new = copy.deepcopy(cls)
    new["spec"]["controller"] = "other.dev/x"
    assert [e.message() for e in INGRESSCLASSES.strategy.validate_update(new, cls)] == [
        'spec.controller: Invalid value: "other.dev/x": field is immutable'
    ]
    assert [e.message() for e in INGRESSCLASSES.strategy.validate({"spec": {}})] == [
        "spec.controller: Required value"
    ]
