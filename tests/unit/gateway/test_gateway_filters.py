"""Unit tests: the CORS and RequestMirror filters (origin matching, the rendered
config checked with `haproxy -c`, mirror backends in ResolvedRefs), the
HTTPRoute/GRPCRoute cross-serving rule, and which changes wake the gateway pods."""

from __future__ import annotations

import dataclasses
import re
import shutil
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from portico.gateway import cors, render, sources
from portico.gateway.routing import Mirror, build_table
from portico.ingress.endpoints import assign_slots
from portico.ingress.files import write_files
from portico.ingress.haproxy import check_config
from portico.ingress.model import Settings
from portico.model.kinds import SERVICE
from tests.gateway_conformance import needs_conformance
from tests.unit.gateway.test_gateway_decisions import INFRA, decide, snapshot, tls_pem

pytestmark = needs_conformance


@pytest.mark.parametrize(("allowed", "origin", "ok"), [
    ("https://www.foo.com", "https://www.foo.com", True),
    ("https://www.foo.com", "https://WWW.foo.com:443", True),
    ("https://www.foo.com", "https://www.foo.com:8443", False),
    ("https://www.foo.com", "http://www.foo.com", False),
    ("https://*.bar.com", "https://www.bar.com", True),
    ("https://*.bar.com", "https://xpto.www.bar.com", True),
    ("https://*.bar.com", "https://bar.com", False),
    ("https://*.bar.com", "https://foobar.com", False),
    ("http://a.example:8080", "http://a.example:8080", True),
    ("http://a.example:8080", "http://a.example", False),
    ("*", "https://anything.example:12345", True)])
def test_origin_matching(allowed: str, origin: str, ok: bool) -> None:
    assert bool(re.search(cors.origin_regex(allowed), origin, re.I)) == ok


def _route(name: str, rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": name, "namespace": INFRA},
            "spec": {"parentRefs": [{"name": "same-namespace"}], "rules": rules}}


def _mirror(name: str, **share: object) -> dict[str, object]:
    return {"type": "RequestMirror", "requestMirror": {
        "backendRef": {"name": name, "port": 8080}, **share}}


FILTERED = _route("filtered", [
    {"matches": [{"path": {"type": "PathPrefix", "value": "/cors"}}],
     "filters": [{"type": "CORS", "cors": {
         "allowOrigins": ["https://www.foo.com", "https://*.bar.com"],
         "allowMethods": ["GET", "OPTIONS"], "allowHeaders": ["x-header-1"],
         "exposeHeaders": ["x-header-3"], "allowCredentials": True, "maxAge": 3600}}],
     "backendRefs": [{"name": "infra-backend-v1", "port": 8080}]},
    {"matches": [{"path": {"type": "PathPrefix", "value": "/mirror"}}],
     "filters": [_mirror("infra-backend-v2"), _mirror("infra-backend-v3", percent=50),
                 _mirror("no-such-service")],
     "backendRefs": [{"name": "infra-backend-v1", "port": 8080, "filters": [
         _mirror("infra-backend-v2", fraction={"numerator": 1, "denominator": 4})]}]}])


@pytest.mark.skipif(shutil.which("haproxy") is None and not Path("/usr/sbin/haproxy").exists(),
                    reason="needs haproxy")
def test_cors_and_mirrors_render_a_valid_config(tmp_path: Path) -> None:
    snap = snapshot(extra=(FILTERED,))
    views, attached, parents = decide(snap)
    conditions = {c.type: c.reason for p in parents if p.route[1] == "filtered"
                  for c in p.conditions}
    assert conditions["ResolvedRefs"] == "BackendNotFound"     # the third mirror's Service
    table = build_table(snap, views[(INFRA, "same-namespace")], attached)
    mirrored = next(e for e in table.entries if e.mirrors)
    v2, v3 = (f"be_{INFRA}_infra-backend-v{i}_8080" for i in (2, 3))
    assert mirrored.mirrors == (Mirror(v2), Mirror(v3, 50, 100))
    assert mirrored.choices[0].mirrors == (Mirror(v2, 1, 4),)
    assert {v2, v3} <= {b.name for b in table.backends}
    settings = Settings(state_dir=PurePosixPath(tmp_path), run_dir=PurePosixPath(tmp_path),
                        default_certificate=tls_pem())
    slots = {b.name: assign_slots(b.servers, (), 4) for b in table.backends}
    rendered = render.render_table(table, slots, settings)
    assert "lua-load" in rendered.config and "frontend gw_mirror" in rendered.config
    assert f"lua.portico_mirror {v3}" in rendered.config and "rand(100) -m int lt 50" in \
        rendered.config
    assert "Access-Control-Max-Age 3600" in rendered.config
    write_files(tmp_path, rendered)
    ok, message = check_config(tmp_path / "haproxy.cfg")
    assert ok, message


def test_cors_header_lists_haproxy_cannot_hold_drop_the_rule() -> None:
    bad = _route("bad-cors", [{"filters": [{"type": "CORS", "cors": {
        "allowOrigins": ["*"], "exposeHeaders": ["x-100%"]}}],
        "backendRefs": [{"name": "infra-backend-v1", "port": 8080}]}])
    _, _, parents = decide(snapshot(extra=(bad,)))
    assert [c.reason for p in parents for c in p.conditions if c.type == "Accepted"] == \
        ["UnsupportedValue"]


def _grpc(name: str, created: str, hostnames: list[str]) -> dict[str, object]:
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GRPCRoute",
            "metadata": {"name": name, "namespace": INFRA, "generation": 1,
                         "creationTimestamp": created},
            "spec": {"parentRefs": [{"name": "same-namespace"}], "hostnames": hostnames,
                     "rules": [{"backendRefs": [{"name": "grpc-infra-backend-v1",
                                                 "port": 8080}]}]}}


def test_http_and_grpc_routes_sharing_a_hostname_only_the_older_is_accepted() -> None:
    http = _route("web", [{"backendRefs": [{"name": "infra-backend-v1", "port": 8080}]}])
    http["metadata"]["creationTimestamp"] = "2026-01-01T00:00:30Z"
    http["spec"]["hostnames"] = ["*.example.com"]
    snap = dataclasses.replace(snapshot(extra=(http,)), grpc_routes=(
        _grpc("older", "2026-01-01T00:00:10Z", ["a.example.com"]),
        _grpc("newer", "2026-01-01T00:00:50Z", ["b.example.com", "other.example.org"]),
        _grpc("apart", "2026-01-01T00:00:50Z", ["grpc.example.org"])))
    views, attached, parents = decide(snap)
    accepted = {(p.kind, p.route[1]): next((c.status, c.reason) for c in p.conditions
                                           if c.type == "Accepted") for p in parents}
    assert accepted == {("HTTPRoute", "web"): (False, "HostnameConflict"),
                        ("GRPCRoute", "older"): (True, "Accepted"),
                        ("GRPCRoute", "newer"): (True, "Accepted"),   # web lost: no conflict
                        ("GRPCRoute", "apart"): (True, "Accepted")}
    message = next(c.message for p in parents if p.route[1] == "web" for c in p.conditions
                   if c.type == "Accepted")
    assert "GRPCRoute gateway-conformance-infra/older" in message
    table = build_table(snap, views[(INFRA, "same-namespace")], attached)
    assert {e.hostname for e in table.entries} == {"a.example.com", "b.example.com",
                                                   "other.example.org", "grpc.example.org"}


def test_gateway_pods_are_not_woken_by_status_writes() -> None:
    route = _route("r", [{"backendRefs": [{"name": "infra-backend-v1", "port": 8080}]}])
    route["metadata"].update(resourceVersion="1", generation=1)
    written = {**route, "status": {"parents": []},
               "metadata": {**route["metadata"], "resourceVersion": "2",
                            "managedFields": [{"manager": "portico-gateway-controller"}]}}
    assert not sources.routing_changed(route, written)
    edited = {**written, "spec": {**route["spec"], "hostnames": ["x.example"]}}
    labelled = {**written, "metadata": {**written["metadata"], "labels": {"a": "b"}}}
    assert sources.routing_changed(written, edited) and sources.routing_changed(written,
                                                                                labelled)
    assert sources.routing_changed(None, route) and sources.routing_changed(route, None)


def test_gateway_pods_see_a_services_ports_and_type_not_its_selector() -> None:
    service = {"metadata": {"name": "s", "namespace": INFRA},
               "spec": {"selector": {"app": "a"}, "ports": [{"port": 80}], "type": "ClusterIP"}}
    reselected = {**service, "spec": {**service["spec"], "selector": {"app": "b"}}}
    assert not sources.routing_changed(service, reselected, SERVICE)
    assert sources.routing_changed(service, reselected)   # other kinds: the whole spec
    for spec in ({"ports": [{"port": 81}]}, {"type": "ExternalName"}):
        changed = {**service, "spec": {**service["spec"], **spec}}
        assert sources.routing_changed(service, changed, SERVICE)
