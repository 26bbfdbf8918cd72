"""The Gateway API v1.6.1 bundle's CEL rules: all compile, conformance objects pass,
broken objects fail with the bundle's own messages."""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from typing import Any

import pytest

from portico.apiserver.apiextensions.cel import CompiledRules, compile_rules
from tests.unit.apiextensions.gateway_bundle import (
    conformance_objects,
    crd_schemas,
    defaulted,
    needs_bundle,
)

pytestmark = needs_bundle
V1 = "gateway.networking.k8s.io/v1"


@functools.cache
def compiled(api_version: str, kind: str) -> CompiledRules:
    rules, errs = compile_rules(crd_schemas()[(api_version, kind)], "x")
    assert errs == []
    return rules


def test_every_rule_of_every_version_compiles_within_cost_limits() -> None:
    for (api_version, kind), schema in crd_schemas().items():
        _, errs = compile_rules(schema, "spec.versions[0].schema.openAPIV3Schema")
        assert [e.message() for e in errs] == [], f"{api_version} {kind}"


def test_every_conformance_object_passes() -> None:
    checked = 0
    for name, obj in conformance_objects():
        key = (obj["apiVersion"], obj["kind"])
        if key not in crd_schemas():
            continue
        found, _ = compiled(*key).validate(defaulted(obj, crd_schemas()[key]))
        assert [e.message() for e in found] == [], name
        checked += 1
    assert checked > 50


def conformance(file_and_name: str) -> dict[str, Any]:
    return copy.deepcopy(dict(conformance_objects())[file_and_name])


def set_path(value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(route: dict[str, Any]) -> None:
        route["spec"]["rules"][0]["matches"] = [{"path": {"type": "PathPrefix", "value": value}}]
    return mutate


def two_listeners_named_same(gateway: dict[str, Any]) -> None:
    listener = gateway["spec"]["listeners"][0]
    gateway["spec"]["listeners"] = [listener, {**listener, "port": listener["port"] + 1}]


def redirect_and_rewrite(route: dict[str, Any]) -> None:
    route["spec"]["rules"][0]["filters"] = [
        {"type": "RequestRedirect", "requestRedirect": {"hostname": "a.example"}},
        {"type": "URLRewrite", "urlRewrite": {"hostname": "b.example"}},
    ]
    route["spec"]["rules"][0].pop("backendRefs", None)


def filter_type_mismatch(route: dict[str, Any]) -> None:
    route["spec"]["rules"][0]["filters"] = [
        {"type": "RequestRedirect", "urlRewrite": {"hostname": "b.example"}}]


def backend_without_port(route: dict[str, Any]) -> None:
    route["spec"]["rules"][0]["backendRefs"] = [{"name": "svc"}]


def timeouts_backend_over_request(route: dict[str, Any]) -> None:
    route["spec"]["rules"][0]["timeouts"] = {"request": "1s", "backendRequest": "2s"}


ROUTE = "httproute-simple-same-namespace.yaml:gateway-conformance-infra-test"
GATEWAY = "gateway-with-attached-routes.yaml:gateway-with-one-attached-route"


@pytest.mark.parametrize(("source", "kind", "mutate", "want"), [
    pytest.param(ROUTE, "HTTPRoute", set_path("/a//b"),
                 ['spec.rules[0].matches[0].path: Invalid value: "object": must not contain '
                  "'//' when type one of ['Exact', 'PathPrefix']"], id="path-double-slash"),
    pytest.param(ROUTE, "HTTPRoute", set_path("/a/.."),
                 ['spec.rules[0].matches[0].path: Invalid value: "object": must not end with '
                  "'/..' when type one of ['Exact', 'PathPrefix']"], id="path-dot-dot"),
    pytest.param(ROUTE, "HTTPRoute", redirect_and_rewrite,
                 ['spec.rules[0].filters: Invalid value: "array": May specify either '
                  "httpRouteFilterRequestRedirect or httpRouteFilterRequestRewrite, but not both"],
                 id="redirect-and-rewrite"),
    pytest.param(ROUTE, "HTTPRoute", filter_type_mismatch,
                 ['spec.rules[0].filters[0]: Invalid value: "object": filter.requestRedirect '
                  "must be specified for RequestRedirect filter.type",
                  'spec.rules[0].filters[0]: Invalid value: "object": filter.urlRewrite must be '
                  "nil if the filter.type is not URLRewrite"], id="filter-type-mismatch"),
    pytest.param(ROUTE, "HTTPRoute", backend_without_port,
                 ['spec.rules[0].backendRefs[0]: Invalid value: "object": Must have port for '
                  "Service reference"], id="service-backend-without-port"),
    pytest.param(ROUTE, "HTTPRoute", timeouts_backend_over_request,
                 ['spec.rules[0].timeouts: Invalid value: "object": backendRequest timeout '
                  "cannot be longer than request timeout"], id="timeouts-duration"),
    pytest.param(GATEWAY, "Gateway", two_listeners_named_same,
                 ['spec.listeners: Invalid value: "array": Listener name must be unique '
                  "within the Gateway"], id="duplicate-listener-name"),
])
def test_broken_objects_fail_with_the_bundles_messages(
        source: str, kind: str, mutate: Callable[[dict[str, Any]], None],
        want: list[str]) -> None:
    obj = conformance(source)
    assert obj["kind"] == kind
    mutate(obj)
    key = (obj["apiVersion"], kind)
    found, _ = compiled(*key).validate(defaulted(obj, crd_schemas()[key]))
    assert [e.message() for e in found] == want


@pytest.mark.parametrize(("hostnames", "want"), [
    pytest.param(["tls.example.com", "*.example.com"], [], id="valid"),
    pytest.param(["10.0.0.1"], ['spec.hostnames: Invalid value: "array": Hostnames cannot '
                                "contain an IP"], id="ipv4"),
    pytest.param(["a.*.example.com"], ['spec.hostnames: Invalid value: "array": Wildcards on '
                                       "hostnames must be the first label, and the rest of "
                                       "hostname must be valid based on RFC-1123"],
                 id="inner-wildcard"),
])
def test_tls_route_hostname_rules(hostnames: list[str], want: list[str]) -> None:
    route = {"apiVersion": V1, "kind": "TLSRoute", "metadata": {"name": "t", "namespace": "d"},
             "spec": {"hostnames": hostnames, "rules": [{"backendRefs": [
                 {"name": "s", "port": 443}]}]}}
    schema = crd_schemas()[(V1, "TLSRoute")]
    found, _ = compiled(V1, "TLSRoute").validate(defaulted(route, schema))
    assert [e.message() for e in found] == want


def test_gateway_class_controller_name_is_immutable() -> None:
    gc = {"apiVersion": V1, "kind": "GatewayClass", "metadata": {"name": "gc"},
          "spec": {"controllerName": "example.com/a"}}
    moved = copy.deepcopy(gc)
    moved["spec"]["controllerName"] = "example.com/b"
    assert compiled(V1, "GatewayClass").validate(gc, gc) == ([], [])
    found, _ = compiled(V1, "GatewayClass").validate(moved, gc)
    assert [e.message() for e in found] == [
        'spec.controllerName: Invalid value: "string": Value is immutable']
