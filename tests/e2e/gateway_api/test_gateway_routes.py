"""HTTPRoute and GRPCRoute on a real cluster: the conformance suite's Core tests, ported.

Each test applies its upstream manifest (../shared/conformance), waits for the
route statuses upstream waits for, checks them, then sends requests through
the Gateway's load balancer address from the sandbox and checks the echo
backend's view (gateway_probe.py: 3 consecutive matches within 30 s), and
deletes its manifests. Beyond Core: the Extended features Portico serves,
and GRPCRoute over h2c. Requests only leave from the sandbox.
"""

from __future__ import annotations

import json
import os

import pytest

from portico.testing.sandbox import Cluster, wait_for
from tests.e2e import gateway_support as gs
from tests.gateway_conformance import needs_conformance

pytestmark = [pytest.mark.e2e, needs_conformance,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root for netns")]
NS = gs.INFRA
V1, V2, V3 = "infra-backend-v1", "infra-backend-v2", "infra-backend-v3"
case = gs.case


def test_httproute_simple_same_namespace(cluster: Cluster, same_ns: str) -> None:
    with gs.applied(cluster, "httproute-simple-same-namespace"):
        conds = gs.route_parent(cluster, "gateway-conformance-infra-test", "same-namespace")
        assert conds["ResolvedRefs"]["status"] == "True"
        gs.expect(cluster, same_ns, [case("/")])


def test_httproute_matching(cluster: Cluster, same_ns: str) -> None:
    with gs.applied(cluster, "httproute-matching"):
        gs.route_parent(cluster, "matching", "same-namespace")
        gs.expect(cluster, same_ns, [
            case("/"), case("/example"), case("/", headers={"Version": "one"}),
            case("/v2", V2), case("/v2/example", V2), case("/", V2, headers={"Version": "two"}),
            case("/v2example")])


def test_httproute_request_header_modifier(cluster: Cluster, same_ns: str) -> None:
    def modified(path: str, sent: dict[str, str], seen: dict[str, str],
                 absent: tuple[str, ...] = ()) -> dict[str, object]:
        return case(path, headers=sent, expected_request={"path": path, "headers": seen,
                                                          "absent": list(absent)})
    with gs.applied(cluster, "httproute-request-header-modifier"):
        gs.route_parent(cluster, "request-header-modifier", "same-namespace")
        other = {"Some-Other-Header": "val"}
        gs.expect(cluster, same_ns, [
            modified("/set", other, {**other, "X-Header-Set": "set-overwrites-values"}),
            modified("/set", {**other, "X-Header-Set": "some-other-value"},
                     {**other, "X-Header-Set": "set-overwrites-values"}),
            modified("/add", other, {**other, "X-Header-Add": "add-appends-values"}),
            modified("/add", {**other, "X-Header-Add": "some-other-value"},
                     {**other, "X-Header-Add": "some-other-value,add-appends-values"}),
            modified("/remove", {"X-Header-Remove": "val"}, {}, ("X-Header-Remove",)),
            modified("/multiple", {"X-Header-Set-2": "set-val-2", "X-Header-Add-2": "add-val-2",
                                   "X-Header-Remove-2": "remove-val-2",
                                   "Another-Header": "another-header-val"},
                     {"X-Header-Set-1": "header-set-1", "X-Header-Set-2": "header-set-2",
                      "X-Header-Add-1": "header-add-1", "X-Header-Add-2": "add-val-2,header-add-2",
                      "X-Header-Add-3": "header-add-3", "Another-Header": "another-header-val"},
                     ("X-Header-Remove-1", "X-Header-Remove-2")),
            modified("/case-insensitivity", {"x-header-set": "original-val-set",
                                             "x-header-add": "original-val-add",
                                             "x-header-remove": "original-val-remove",
                                             "Another-Header": "another-header-val"},
                     {"X-Header-Set": "header-set", "X-Header-Add": "original-val-add,header-add",
                      "Another-Header": "another-header-val"}, ("X-Header-Remove",))])


def test_httproute_redirect_host_and_status(cluster: Cluster, same_ns: str) -> None:
    with gs.applied(cluster, "httproute-redirect-host-and-status"):
        gs.route_parent(cluster, "redirect-host-and-status", "same-namespace")
        gs.expect(cluster, same_ns, [
            {"host": "example.com", "path": "/hostname-redirect", "status": 302,
             "redirect": {"host": "example.org"}},
            {"host": "example.com", "path": "/host-and-status", "status": 301,
             "redirect": {"host": "example.org"}}])


def test_httproute_invalid_nonexistent_backend_ref(cluster: Cluster, same_ns: str) -> None:
    with gs.applied(cluster, "httproute-invalid-nonexistent-backendref"):
        conds = gs.route_parent(cluster, "invalid-nonexistent-backend-ref", "same-namespace")
        assert (conds["ResolvedRefs"]["status"], conds["ResolvedRefs"]["reason"]) == \
            ("False", "BackendNotFound")
        gs.expect(cluster, same_ns, [{"host": "example.com", "path": "/", "status": 500}])


def test_httproute_exact_path_matching(cluster: Cluster, same_ns: str) -> None:
    with gs.applied(cluster, "httproute-exact-path-matching"):
        gs.route_parent(cluster, "exact-matching", "same-namespace")
        gs.expect(cluster, same_ns, [
            case("/one"), case("/two", V2), {"host": "example.com", "path": "/", "status": 404},
            {"host": "example.com", "path": "/one/example", "status": 404},
            {"host": "example.com", "path": "/two/", "status": 404}])


def test_httproute_header_matching(cluster: Cluster, same_ns: str) -> None:
    def h(backend: str, **headers: str) -> dict[str, object]:
        return case("/", backend, headers=headers)
    with gs.applied(cluster, "httproute-header-matching"):
        gs.route_parent(cluster, "header-matching", "same-namespace")
        gs.expect(cluster, same_ns, [
            h(V1, Version="one"), h(V2, Version="two"), h(V1, Version="two", Color="orange"),
            h(V1, Color="blue"), h(V1, Color="green"), h(V2, Color="red"),
            h(V2, Color="yellow"), h(V1, Version="one", Color="orange"),
            {"host": "example.com", "path": "/", "status": 404, "headers": {"Version": "three"}},
            {"host": "example.com", "path": "/", "status": 404, "headers": {"Color": "purple"}}])


def test_httproute_matching_across_routes(cluster: Cluster, same_ns: str) -> None:
    with gs.applied(cluster, "httproute-matching-across-routes"):
        gs.route_parent(cluster, "matching-part1", "same-namespace")
        gs.route_parent(cluster, "matching-part2", "same-namespace")
        gs.expect(cluster, same_ns, [
            case("/"), case("/example"), case("/example", host="example.net"),
            case("/example", headers={"Version": "one"}), case("/v2", V2),
            case("/v2", host="example.net"), case("/v2/example", V2),
            case("/", V2, headers={"Version": "two"})])


def test_httproute_path_match_order(cluster: Cluster, same_ns: str) -> None:
    with gs.applied(cluster, "httproute-path-match-order"):
        gs.route_parent(cluster, "path-matching-order", "same-namespace")
        gs.expect(cluster, same_ns, [
            case("/match/exact/one", V3), case("/match/exact", V2), case("/match"),
            case("/match/prefix/one/any", V2), case("/match/prefix/any"),
            case("/match/any", V3)])


def test_httproute_weight(cluster: Cluster, same_ns: str) -> None:
    with gs.applied(cluster, "httproute-weight"):
        gs.route_parent(cluster, "weighted-backends", "same-namespace")
        gs.expect(cluster, same_ns, [{"host": "example.com", "path": "/", "status": 200}])
        shares = gs.distribution(cluster, same_ns, {"host": "example.com", "path": "/"}, 500)
        assert set(shares) <= {V1, V2}, shares
        assert abs(shares.get(V1, 0) / 500 - 0.7) <= 0.05 and \
            abs(shares.get(V2, 0) / 500 - 0.3) <= 0.05, shares


def test_httproute_no_backend_refs_answer_500(cluster: Cluster, same_ns: str) -> None:
    with gs.applied(cluster, "httproute-omitted-backendrefs"):
        gs.route_parent(cluster, "omitted-backendrefs", "same-namespace")
        gs.expect(cluster, same_ns, [
            {"host": "example.com", "path": "/omitted-no-forward", "status": 500},
            {"host": "example.com", "path": "/empty-no-forward", "status": 500}])


@pytest.mark.parametrize(("manifest", "route", "reason"), [
    ("httproute-invalid-backendref-unknown-kind", "invalid-backend-ref-unknown-kind",
     "InvalidKind"),
    ("httproute-invalid-cross-namespace-backend-ref", "invalid-cross-namespace-backend-ref",
     "RefNotPermitted"),
    ("httproute-invalid-reference-grant", "reference-grant", "RefNotPermitted")])
def test_httproute_unresolved_backends_answer_500(cluster: Cluster, same_ns: str, manifest: str,
                                                 route: str, reason: str) -> None:
    with gs.applied(cluster, manifest):
        conds = gs.route_parent(cluster, route, "same-namespace")
        assert (conds["ResolvedRefs"]["status"], conds["ResolvedRefs"]["reason"]) == \
            ("False", reason)
        gs.expect(cluster, same_ns, [{"host": "example.com", "path": "/", "status": 500}])


def test_httproute_partially_invalid_via_reference_grant(cluster: Cluster, same_ns: str) -> None:
    with gs.applied(cluster, "httproute-partially-invalid-via-invalid-reference-grant"):
        conds = gs.route_parent(cluster, "invalid-reference-grant", "same-namespace")
        assert conds["ResolvedRefs"]["reason"] == "RefNotPermitted"
        gs.expect(cluster, same_ns, [
            {"host": "example.com", "path": "/v2", "status": 500},
            case("/", "app-backend-v1", "gateway-conformance-app-backend")])


def test_httproute_reference_grant(cluster: Cluster, same_ns: str) -> None:
    with gs.applied(cluster, "httproute-reference-grant"):
        conds = gs.route_parent(cluster, "reference-grant", "same-namespace")
        assert conds["ResolvedRefs"]["status"] == "True"
        gs.expect(cluster, same_ns, [case("/", "web-backend", "gateway-conformance-web-backend")])


def test_httproute_cross_namespace(cluster: Cluster) -> None:
    with gs.applied(cluster, "httproute-cross-namespace"):
        gs.route_parent(cluster, "cross-namespace", "backend-namespaces",
                        namespace="gateway-conformance-web-backend")
        gs.expect(cluster, gs.address(cluster, "backend-namespaces"),
                  [case("/", "web-backend", "gateway-conformance-web-backend")])


def test_httproute_invalid_parent_refs(cluster: Cluster) -> None:
    with gs.applied(cluster, "httproute-invalid-cross-namespace-parent-ref"), \
            gs.applied(cluster, "httproute-invalid-parentref-not-matching-section-name"):
        conds = gs.route_parent(cluster, "invalid-cross-namespace-parent-ref", "same-namespace",
                                "False", namespace="gateway-conformance-web-backend")
        assert conds["Accepted"]["reason"] == "NotAllowedByListeners"
        conds = gs.route_parent(cluster, "httproute-listener-not-matching-section-name",
                                "same-namespace", "False")
        assert conds["Accepted"]["reason"] == "NoMatchingParent"
        gs.wait_listeners(cluster, "same-namespace", {"http": {"attached": 0,
                                                               "conditions": gs.OK}})


def test_httproute_multiple_gateways(cluster: Cluster, same_ns: str) -> None:
    with gs.applied(cluster, "httproute-multiple-gateways"):
        gs.route_parent(cluster, "multiple-gateways-shared-route", "same-namespace")
        gs.route_parent(cluster, "multiple-gateways-shared-route", "all-namespaces")
        gs.expect(cluster, same_ns, [case("/shared"), case("/", V2)])
        gs.expect(cluster, gs.address(cluster, "all-namespaces"), [case("/shared"),
                                                                   case("/", V3)])


def test_httproute_observed_generation_bump(cluster: Cluster) -> None:
    with gs.applied(cluster, "httproute-observed-generation-bump"):
        before = gs.route_parent(cluster, "observed-generation-bump", "same-namespace")
        cluster.kubectl("patch", "httproute", "observed-generation-bump", "-n", NS,
                        "--type=json", "-p",
                        '[{"op":"replace","path":"/spec/rules/0/backendRefs/0/port",'
                        '"value":8080}]', check=True)
        cluster.kubectl("patch", "httproute", "observed-generation-bump", "-n", NS,
                        "--type=merge", "-p", '{"spec":{"hostnames":["bumped.example.com"]}}',
                        check=True)
        after = gs.route_parent(cluster, "observed-generation-bump", "same-namespace")
        assert after["Accepted"]["observedGeneration"] > before["Accepted"]["observedGeneration"]


def test_httproute_hostname_intersection(cluster: Cluster) -> None:
    def h(host: str, path: str, backend: str | None) -> dict[str, object]:
        return case(path, backend, host=host) if backend else \
            {"host": host, "path": path, "status": 404}
    with gs.applied(cluster, "httproute-hostname-intersection"):
        for route in ("specific-host-matches-listener-specific-host",
                      "specific-host-matches-listener-wildcard-host",
                      "wildcard-host-matches-listener-specific-host",
                      "wildcard-host-matches-listener-wildcard-host"):
            gs.route_parent(cluster, route, "httproute-hostname-intersection")
        conds = gs.route_parent(cluster, "no-intersecting-hosts",
                                "httproute-hostname-intersection", "False")
        assert conds["Accepted"]["reason"] == "NoMatchingListenerHostname"
        gs.wait_listeners(cluster, "httproute-hostname-intersection", {
            "listener-1": {"attached": 2, "conditions": gs.OK},
            "listener-2": {"attached": 1, "conditions": gs.OK},
            "listener-3": {"attached": 1, "conditions": gs.OK}})
        gs.expect(cluster, gs.address(cluster, "httproute-hostname-intersection"), [
            h("very.specific.com", "/s1", V1), h("very.specific.com:1234", "/s1", V1),
            h("non.matching.com", "/s1", None), h("foo.nonmatchingwildcard.io", "/s1", None),
            h("foo.wildcard.io", "/s1", None), h("very.specific.com", "/non-matching-prefix",
                                                 None),
            h("foo.wildcard.io", "/s2", V2), h("bar.wildcard.io", "/s2", V2),
            h("foo.bar.wildcard.io", "/s2", V2), h("wildcard.io", "/s2", None),
            h("very.specific.com", "/s2", None), h("very.specific.com", "/s3", V3),
            h("foo.specific.com", "/s3", None), h("foo.wildcard.io", "/s3", None),
            h("foo.anotherwildcard.io", "/s4", V1), h("foo.bar.anotherwildcard.io", "/s4", V1),
            h("anotherwildcard.io", "/s4", None), h("foo.wildcard.io", "/s4", None),
            h("specific.but.wrong.com", "/s5", None), h("wildcard.io", "/s5", None)])
        gs.expect(cluster, gs.address(cluster, "httproute-hostname-intersection-all"), [
            h("first.com", "/", V2), h("sub.first.com", "/", V2), h("second.com", "/", V2),
            h("sub.second.com", "/", V2), h("third.com", "/", None),
            h("sub.third.com", "/", None)])


def test_httproute_listener_hostname_matching(cluster: Cluster) -> None:
    with gs.applied(cluster, "httproute-listener-hostname-matching"):
        for route in ("backend-v1", "backend-v2", "backend-v3"):
            gs.route_parent(cluster, route, "httproute-listener-hostname-matching")
        gs.expect(cluster, gs.address(cluster, "httproute-listener-hostname-matching"), [
            case("/", V1, host="bar.com"), case("/", V2, host="foo.bar.com"),
            case("/", V3, host="baz.bar.com"), case("/", V3, host="boo.bar.com"),
            case("/", V3, host="multiple.prefixes.bar.com"),
            case("/", V3, host="multiple.prefixes.foo.com"),
            {"host": "foo.com", "path": "/", "status": 404},
            {"host": "no.matching.host", "path": "/", "status": 404}])


def test_httproute_https_listener(cluster: Cluster) -> None:
    with gs.applied(cluster, "httproute-https-listener"):
        gs.route_parent(cluster, "httproute-https-test", "same-namespace-with-https-listener")
        gs.route_parent(cluster, "httproute-https-test-no-hostname",
                        "same-namespace-with-https-listener")
        gs.expect(cluster, gs.address(cluster, "same-namespace-with-https-listener"), [
            case("/", host="example.org", https=True),
            {"host": "second-example.org", "sni": "unknown-example.org", "path": "/",
             "https": True, "status": 404},
            case("/", V2, host="second-example.org", https=True),
            {"host": "unknown-example.org", "path": "/", "https": True, "status": 404}])


def _route(name: str, rules: list[dict[str, object]]) -> dict[str, object]:
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": name, "namespace": NS},
            "spec": {"parentRefs": [{"name": "same-namespace"}],
                     "hostnames": ["extended.example"], "rules": rules}}


EXTENDED_RULES: list[dict[str, object]] = [
    {"matches": [{"path": {"type": "PathPrefix", "value": "/q"},
                  "queryParams": [{"name": "v", "value": "2"}], "method": "POST"}],
     "backendRefs": [{"name": V2, "port": 8080}]},
    {"matches": [{"path": {"type": "PathPrefix", "value": "/q"}}],
     "backendRefs": [{"name": V1, "port": 8080, "filters": [
         {"type": "RequestHeaderModifier",
          "requestHeaderModifier": {"set": [{"name": "X-Picked", "value": "v1"}]}}]}]},
    {"matches": [{"path": {"type": "PathPrefix", "value": "/old"}}],
     "filters": [{"type": "URLRewrite", "urlRewrite": {
         "hostname": "rewritten.example",
         "path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/new"}}},
        {"type": "ResponseHeaderModifier", "responseHeaderModifier": {
            "add": [{"name": "X-Rewritten", "value": "yes"}]}}],
     "backendRefs": [{"name": V1, "port": 8080}]},
    {"matches": [{"path": {"type": "PathPrefix", "value": "/moved"}}],
     "filters": [{"type": "RequestRedirect", "requestRedirect": {
         "scheme": "https", "port": 8443, "statusCode": 308,
         "path": {"type": "ReplaceFullPath", "replaceFullPath": "/elsewhere"}}}]},
    {"matches": [{"path": {"type": "PathPrefix", "value": "/slow"}}],
     "timeouts": {"request": "500ms"}, "backendRefs": [{"name": V1, "port": 8080}]},
    {"matches": [{"path": {"type": "PathPrefix", "value": "/nobody"}}],
     "backendRefs": [{"name": "no-endpoints", "port": 8080}]}]


def test_httproute_extended_features(cluster: Cluster, same_ns: str) -> None:
    empty = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "no-endpoints",
                                                                "namespace": NS},
             "spec": {"selector": {"app": "nothing-runs-this"},
                      "ports": [{"port": 8080, "targetPort": 3000}]}}
    route = _route("extended", EXTENDED_RULES)
    gs.apply(cluster, [empty, route])
    try:
        gs.route_parent(cluster, "extended", "same-namespace")
        host = "extended.example"
        gs.expect(cluster, same_ns, [
            case("/q?v=2", V2, host=host, method="POST"),
            case("/q?v=2", V1, host=host, expected_request={"headers": {"X-Picked": "v1"}}),
            case("/old/x", host=host, response_headers={"X-Rewritten": "yes"},
                 expected_request={"path": "/new/x", "host": "rewritten.example"}),
            case("/old", host=host, expected_request={"path": "/new"}),
            {"host": host, "path": "/moved/a", "status": 308,
             "redirect": {"scheme": "https", "host": host, "port": 8443,
                          "path": "/elsewhere"}},
            case("/slow?delay=100ms", host=host),
            {"host": host, "path": "/slow?delay=2s", "status": 504},
            {"host": host, "path": "/nobody", "status": 503}])
    finally:
        cluster.kubectl("delete", "httproute/extended", "service/no-endpoints", "-n", NS,
                        "--wait")


GRPC_SERVICE = "gateway_api_conformance.echo_basic.grpcecho.GrpcEcho"


def test_grpcroute_exact_method_matching_over_h2c(cluster: Cluster, same_ns: str) -> None:
    route = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GRPCRoute",
             "metadata": {"name": "exact-matching", "namespace": NS},
             "spec": {"parentRefs": [{"name": "same-namespace"}],
                      "hostnames": ["grpc.example.com"], "rules": [
                 {"matches": [{"method": {"service": GRPC_SERVICE, "method": "Echo"}}],
                  "backendRefs": [{"name": "grpc-infra-backend-v1", "port": 8080}]},
                 {"matches": [{"method": {"service": GRPC_SERVICE, "method": "EchoTwo"}}],
                  "backendRefs": [{"name": "grpc-infra-backend-v2", "port": 8080}]}]}}
    gs.apply(cluster, [route])
    try:
        conds = gs.route_parent(cluster, "exact-matching", "same-namespace", kind="grpcroute")
        assert conds["ResolvedRefs"]["status"] == "True"

        def answered_by(method: str, backend: str) -> bool:
            status, headers = gs.grpc_call(cluster, same_ns, f"/{GRPC_SERVICE}/{method}")
            return status == 200 and headers.get("grpc-status") == "0" and \
                headers.get("x-echo-pod", "").startswith(backend) and \
                headers.get("x-echo-method") == f"/{GRPC_SERVICE}/{method}"
        for method, backend in (("Echo", "grpc-infra-backend-v1"),
                                ("EchoTwo", "grpc-infra-backend-v2")):
            wait_for(lambda m=method, b=backend: all(answered_by(m, b) for _ in range(3)), 30,
                     interval=0.2, message=f"{method} answered by {backend}")
        wait_for(lambda: gs.grpc_call(cluster, same_ns, f"/{GRPC_SERVICE}/EchoThree")[0] == 404,
                 30, interval=0.2, message="an unrouted method answered 404")
        gw = gs.gateway_status(cluster, "same-namespace")
        assert "GRPCRoute" in gs.listener_view(gw)["http"]["kinds"]
    finally:
        cluster.kubectl("delete", "grpcroute/exact-matching", "-n", NS, "--wait")


def test_httproute_service_types(cluster: Cluster, same_ns: str) -> None:
    """Headless Services and manual EndpointSlices; upstream fills the slices with the
    infra-backend-v1 pods' addresses (IPv4 only: Portico's pods have no IPv6). kubectl's
    schema calls the missing `endpoints` required: sent unchecked, as upstream does."""
    with gs.applied(cluster, "httproute-service-types", "--validate=false"):
        gs.route_parent(cluster, "service-types", "same-namespace")
        pods = gs.kubectl_json(cluster, "get", "pods", "-n", NS, "-l", f"app={V1}")["items"]
        endpoints = [{"addresses": [p["status"]["podIP"]],
                      "conditions": {"ready": True, "serving": True, "terminating": False},
                      "nodeName": p["spec"]["nodeName"],
                      "targetRef": {"kind": "Pod", "name": p["metadata"]["name"],
                                    "namespace": NS, "uid": p["metadata"]["uid"]}}
                     for p in pods]
        for name in ("manual-endpointslices-ip4", "headless-manual-endpointslices-ip4"):
            cluster.kubectl("patch", "endpointslice", name, "-n", NS, "--type=merge", "-p",
                            json.dumps({"endpoints": endpoints}), check=True)
        gs.expect(cluster, same_ns, [case(f"/{path}") for path in (
            "headless", "manual-endpointslices", "headless-manual-endpointslices")])
