"""Unit tests: listener conditions, route attachment and status, precedence, and the HAProxy config.

The inputs are the conformance manifests themselves (../shared/conformance),
turned into a `Snapshot` as the informers would hold them; the rendered config
is checked with `haproxy -c`.
"""

from __future__ import annotations

import copy
import shutil
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from portico.gateway import provision, render, status
from portico.gateway.attach import attachments, intersect
from portico.gateway.listeners import gateway_view
from portico.gateway.model import CLASS_NAME, CONTROLLER_NAME, Snapshot, namespaced_name
from portico.gateway.routing import build_table
from portico.ingress.endpoints import assign_slots
from portico.ingress.files import write_files
from portico.ingress.haproxy import check_config
from portico.ingress.model import Settings
from tests.gateway_conformance import BASE_SECRETS, documents, needs_conformance, tls_secret

pytestmark = needs_conformance
INFRA = "gateway-conformance-infra"


def snapshot(*names: str, extra: tuple[dict[str, Any], ...] = ()) -> Snapshot:
    docs = documents("base") + [d for n in names for d in documents(n)] + list(extra)
    docs += [tls_secret(*s) for s in BASE_SECRETS]
    for i, d in enumerate(docs):
        d["metadata"].setdefault("uid", f"uid-{i}")
        d["metadata"].setdefault("generation", 1)
        d["metadata"].setdefault("creationTimestamp", f"2026-01-01T00:00:{i % 60:02}Z")

    def by(kind: str) -> dict[tuple[str, str], dict[str, Any]]:
        return {namespaced_name(d): d for d in docs if d["kind"] == kind}
    return Snapshot(
        classes={CLASS_NAME: {"metadata": {"name": CLASS_NAME},
                              "spec": {"controllerName": CONTROLLER_NAME}}},
        gateways=by("Gateway"), http_routes=tuple(d for d in docs if d["kind"] == "HTTPRoute"),
        reference_grants=tuple(d for d in docs if d["kind"] == "ReferenceGrant"),
        services=by("Service"), secrets=by("Secret"),
        namespaces={d["metadata"]["name"]: d for d in docs if d["kind"] == "Namespace"})


def decide(snap: Snapshot) -> tuple[dict, list, list]:
    views = {k: gateway_view(snap, g) for k, g in snap.gateways.items()}
    attached, parents = attachments(snap, views)
    return views, attached, parents


def reasons(conditions: list[dict[str, Any]]) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in conditions}


@pytest.mark.parametrize(("listener", "route", "served"), [
    (None, "a.example.com", "a.example.com"), ("*.example.com", "a.b.example.com",
                                                 "a.b.example.com"),
    ("*.example.com", "example.com", None), ("a.example.com", "*.example.com", "a.example.com"),
    ("*.example.com", "*.foo.example.com", "*.foo.example.com"),
    ("*.foo.example.com", "*.example.com", "*.foo.example.com"), ("a.org", "b.org", None)])
def test_hostname_intersection(listener: str | None, route: str, served: str | None) -> None:
    assert intersect(listener, route) == served


def test_invalid_route_kinds_keep_only_valid_supported_kinds() -> None:
    snap = snapshot("gateway-invalid-route-kind")
    views, attached, _ = decide(snap)
    only = views[(INFRA, "gateway-only-invalid-route-kind")].listeners[0]
    both = views[(INFRA, "gateway-supported-and-invalid-route-kind")].listeners[0]
    assert only.kinds == () and both.kinds == ("HTTPRoute",)
    st = status.gateway_status(snap.gateways[(INFRA, "gateway-only-invalid-route-kind")],
                               views[(INFRA, "gateway-only-invalid-route-kind")], attached,
                               None, False)
    assert reasons(st["listeners"][0]["conditions"])["ResolvedRefs"] == \
        ("False", "InvalidRouteKinds")
    assert st["listeners"][0]["supportedKinds"] == []


def test_unsupported_protocol_and_invalid_tls() -> None:
    snap = snapshot("gateway-invalid-listeners-unsupported-protocol",
                    "gateway-invalid-tls-configuration")
    views, _, _ = decide(snap)
    for key, view in views.items():
        if key[1] == "gateway-invalid-listeners-unsupported-protocol":
            assert [c.reason for c in view.listeners[0].conditions][0] == "UnsupportedProtocol"
            assert view.accepted.reason == "ListenersNotValid"
        if key[1].startswith("gateway-certificate"):
            resolved = next(c for c in view.listeners[0].conditions if c.type == "ResolvedRefs")
            assert (resolved.status, resolved.reason) == (False, "InvalidCertificateRef")


def test_route_status_reasons() -> None:
    snap = snapshot("httproute-invalid-parentref-not-matching-section-name",
                    "httproute-invalid-cross-namespace-parent-ref",
                    "httproute-invalid-backendref-unknown-kind",
                    "httproute-invalid-cross-namespace-backend-ref")
    _, _, parents = decide(snap)
    found = {p.route[1]: {c.type: c.reason for c in p.conditions} for p in parents}
    assert found["httproute-listener-not-matching-section-name"]["Accepted"] == "NoMatchingParent"
    assert found["invalid-cross-namespace-parent-ref"]["Accepted"] == "NotAllowedByListeners"
    assert found["invalid-backend-ref-unknown-kind"]["ResolvedRefs"] == "InvalidKind"
    assert found["invalid-cross-namespace-backend-ref"]["ResolvedRefs"] == "RefNotPermitted"


def test_other_controllers_parent_entries_are_kept() -> None:
    snap = snapshot("httproute-simple-same-namespace")
    route = snap.http_routes[0]
    theirs = {"parentRef": {"name": "x"}, "controllerName": "example.com/other",
              "conditions": []}
    route["status"] = {"parents": [theirs]}
    _, _, parents = decide(snap)
    out = status.route_status(route, parents)
    assert out["parents"][0] == theirs and out["parents"][1]["controllerName"] == CONTROLLER_NAME


def test_precedence_exact_then_longest_prefix_then_headers() -> None:
    snap = snapshot("httproute-path-match-order")
    views, attached, _ = decide(snap)
    table = build_table(snap, views[(INFRA, "same-namespace")], attached)
    kinds = [((e.match.get("path") or {}).get("type"), (e.match.get("path") or {}).get("value"),
              len(e.match.get("headers") or [])) for e in table.entries]
    exact = [i for i, k in enumerate(kinds) if k[0] == "Exact"]
    assert exact == list(range(len(exact)))
    prefixes = [len(k[1]) for k in kinds if k[0] == "PathPrefix"]
    assert prefixes == sorted(prefixes, reverse=True)


def test_long_gateway_names_are_shortened() -> None:
    gw = documents("gateway-name-maximum-length")[0]
    gw["metadata"]["uid"] = "u"
    name = provision.object_name(gw)
    assert len(name) <= 63 and name == provision.object_name(gw)
    assert len(provision.labels(gw)["gateway.networking.k8s.io/gateway-name"]) <= 63


@pytest.mark.skipif(shutil.which("haproxy") is None and not Path("/usr/sbin/haproxy").exists(),
                    reason="needs haproxy")
@pytest.mark.parametrize("names", [
    ("httproute-matching", "httproute-weight", "httproute-request-header-modifier",
     "httproute-redirect-host-and-status", "httproute-https-listener",
     "httproute-listener-hostname-matching", "httproute-hostname-intersection",
     "httproute-path-match-order", "httproute-header-matching")])
def test_rendered_config_is_valid(names: tuple[str, ...], tmp_path: Path) -> None:
    snap = snapshot(*names)
    views, attached, _ = decide(snap)
    for key, view in views.items():
        table = build_table(snap, view, attached)
        settings = Settings(state_dir=PurePosixPath(tmp_path / key[1]),
                            run_dir=PurePosixPath(tmp_path / "run"), default_certificate="")
        slots = {b.name: assign_slots(b.servers, (), 4) for b in table.backends}
        rendered = render.render_table(table, slots, settings)
        if not rendered.default_certificate:
            continue
        write_files(Path(settings.state_dir), rendered)
        ok, message = check_config(Path(settings.state_dir) / "haproxy.cfg")
        assert ok, message


EXTENDED_ROUTE = {
    "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
    "metadata": {"name": "extended", "namespace": INFRA},
    "spec": {"parentRefs": [{"name": "same-namespace"}], "rules": [
        {"matches": [{"path": {"type": "RegularExpression", "value": "/re/[a-z]+"},
                      "queryParams": [{"name": "q", "value": "it's #1"}], "method": "POST"}],
         "timeouts": {"request": "2s", "backendRequest": "500ms"},
         "filters": [{"type": "ResponseHeaderModifier", "responseHeaderModifier": {
             "set": [{"name": "X-Out", "value": "100%"}]}},
             {"type": "URLRewrite", "urlRewrite": {
                 "hostname": "rewritten.example", "path": {
                     "type": "ReplacePrefixMatch", "replacePrefixMatch": "/new"}}}],
         "backendRefs": [{"name": "infra-backend-v1", "port": 8080, "weight": 3, "filters": [
             {"type": "RequestHeaderModifier",
              "requestHeaderModifier": {"add": [{"name": "X-Pick", "value": "v1"}]}}]},
             {"name": "infra-backend-v2", "port": 8080, "weight": 1}]},
        {"matches": [{"path": {"type": "PathPrefix", "value": "/moved/"}}],
         "filters": [{"type": "RequestRedirect", "requestRedirect": {
             "scheme": "https", "port": 8443, "statusCode": 308,
             "path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}}}]}]}}


def test_extended_features_render_a_valid_config(tmp_path: Path) -> None:
    snap = snapshot(extra=(EXTENDED_ROUTE,))
    views, attached, _ = decide(snap)
    table = build_table(snap, views[(INFRA, "same-namespace")], attached)
    assert [e.timeout_ms for e in table.entries] == [None, 500]  # prefix before regex
    settings = Settings(state_dir=PurePosixPath(tmp_path), run_dir=PurePosixPath(tmp_path),
                        default_certificate=tls_pem())
    slots = {b.name: assign_slots(b.servers, (), 4) for b in table.backends}
    rendered = render.render_table(table, slots, settings)
    assert "set-timeout server var(txn.timeout)" in rendered.config
    assert rendered.maps[render.TIMEOUTS_MAP] == "m1 500\n"
    assert rendered.maps[render.BACKENDS_MAP] == (   # the redirect (m0) picks no backend
        f"m1.0 be_{INFRA}_infra-backend-v1_8080\nm1.1 be_{INFRA}_infra-backend-v2_8080\n")
    assert rendered.maps[render.WEIGHTS_MAP] == "m1 4\nm1.0 3\nm1.1 4\n"  # total, bounds
    assert "url_param(q) -m str it\\'s\\ \\#1" in rendered.config
    assert "acl m1_m method POST" in rendered.config
    write_files(tmp_path, rendered)
    ok, message = check_config(tmp_path / "haproxy.cfg")
    assert ok, message


def tls_pem() -> str:
    from portico.ingress import tls
    crt, key = tls.self_signed()
    return crt + key


def test_rules_haproxy_cannot_render_are_dropped() -> None:
    bad = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
           "metadata": {"name": "bad-regex", "namespace": INFRA},
           "spec": {"parentRefs": [{"name": "same-namespace"}], "rules": [
               {"matches": [{"path": {"type": "RegularExpression", "value": "/(unclosed"}}],
                "backendRefs": [{"name": "infra-backend-v1", "port": 8080}]}]}}
    partly = copy.deepcopy(bad)
    partly["metadata"]["name"] = "partly-bad"
    partly["spec"]["rules"].append({"matches": [{"path": {"type": "Exact", "value": "/ok"}}],
                                    "backendRefs": [{"name": "infra-backend-v2", "port": 8080}]})
    snap = snapshot("httproute-simple-same-namespace", extra=(bad, partly))
    views, attached, parents = decide(snap)
    found = {p.route[1]: {c.type: (c.reason, c.message) for c in p.conditions} for p in parents}
    assert found["bad-regex"]["Accepted"][0] == "UnsupportedValue"
    assert found["gateway-conformance-infra-test"]["Accepted"][0] == "Accepted"
    assert found["partly-bad"]["Accepted"][0] == "Accepted"
    reason, message = found["partly-bad"]["PartiallyInvalid"]
    assert reason == "UnsupportedValue" and message.startswith("Dropped Rule")
    table = build_table(snap, views[(INFRA, "same-namespace")], attached)
    assert sorted(str(e.match) for e in table.entries) == \
        sorted([str({}), str({"path": {"type": "Exact", "value": "/ok"}})])


def test_listeners_that_are_not_distinct_are_all_conflicted() -> None:
    gateway = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
               "metadata": {"name": "conflicts", "namespace": INFRA},
               "spec": {"gatewayClassName": CLASS_NAME, "listeners": [
                   {"name": "a", "port": 80, "protocol": "HTTP", "hostname": "x.example"},
                   {"name": "b", "port": 80, "protocol": "HTTP", "hostname": "x.example"},
                   {"name": "c", "port": 80, "protocol": "HTTP", "hostname": "y.example"},
                   {"name": "d", "port": 8443, "protocol": "HTTP"},
                   {"name": "e", "port": 8443, "protocol": "HTTPS", "tls": {"certificateRefs": [
                       {"name": "tls-validity-checks-certificate"}]}}]}}
    snap = snapshot(extra=(gateway,))
    view = gateway_view(snap, snap.gateways[(INFRA, "conflicts")])
    conflicted = {li.name: next(c.reason for c in li.conditions if c.type == "Conflicted")
                  for li in view.listeners}
    assert conflicted == {"a": "HostnameConflict", "b": "HostnameConflict",
                          "c": "NoConflicts", "d": "ProtocolConflict", "e": "ProtocolConflict"}
    assert (view.accepted.status, view.accepted.reason) == (True, "ListenersNotValid")
    assert [li.name for li in view.listeners if li.valid] == ["c"]
