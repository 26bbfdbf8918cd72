"""HTTPRoute RequestMirror and CORS on a real cluster: upstream's HTTPRouteRequestMirror and
HTTPRouteCORS tests, ported.

The shared conformance copy holds only the Core tests' manifests, so the routes
are written here as upstream's (`httproute-request-mirror.yaml`,
`httproute-cors.yaml`; its third and fourth routes rebuilt from the test's
cases). Mirror: the request is answered by infra-backend-v1 as usual and its
copy shows up in infra-backend-v2's log (upstream's `ExpectMirroredRequest`
reads the echo server's "Echoing back request made to <path>" lines); a unique
query makes the line this test's own. CORS: the test's cases - preflights
answered by the gateway with the allowed origin, methods, headers, max-age and
credentials; simple requests forwarded with Access-Control-Allow-Origin added
for allowed origins only. Requests only leave from the sandbox.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import pytest

from portico.testing.sandbox import Cluster, wait_for
from tests.e2e import gateway_support as gs
from tests.gateway_conformance import needs_conformance

pytestmark = [pytest.mark.e2e, needs_conformance,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root for netns")]
NS = gs.INFRA
V1, V2 = "infra-backend-v1", "infra-backend-v2"


def _route(name: str, rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": name, "namespace": NS},
            "spec": {"parentRefs": [{"name": "same-namespace"}], "rules": rules}}


def _prefix(path: str) -> list[dict[str, Any]]:
    return [{"path": {"type": "PathPrefix", "value": path}}]


BACKEND = [{"name": V1, "port": 8080}]
MIRROR = {"type": "RequestMirror", "requestMirror": {"backendRef": {"name": V2, "port": 8080}}}
MIRROR_ROUTE = _route("request-mirror", [
    {"matches": _prefix("/mirror"), "filters": [MIRROR], "backendRefs": BACKEND},
    {"matches": _prefix("/mirror-and-modify-headers"), "filters": [
        {"type": "RequestHeaderModifier", "requestHeaderModifier": {
            "set": [{"name": "X-Header-Set", "value": "set-overwrites-values"}],
            "add": [{"name": "X-Header-Add", "value": "header-val-1"},
                    {"name": "X-Header-Add-Append", "value": "header-val-2"}],
            "remove": ["X-Header-Remove"]}}, MIRROR], "backendRefs": BACKEND}])


def _mirrored(cluster: Cluster, uri: str) -> bool:
    logs = cluster.kubectl("logs", "-n", NS, "-l", f"app={V2}", "--tail=-1",
                           "--prefix").stdout
    return f"Echoing back request made to {uri} to client" in logs


def test_httproute_request_mirror(cluster: Cluster, same_ns: str) -> None:
    gs.apply(cluster, [MIRROR_ROUTE])
    try:
        conds = gs.route_parent(cluster, "request-mirror", "same-namespace")
        assert conds["ResolvedRefs"]["status"] == "True"
        token = uuid.uuid4().hex
        plain, modified = f"/mirror?t={token}", f"/mirror-and-modify-headers?t={token}"
        gs.expect(cluster, same_ns, [
            gs.case(plain, V1, expected_request={"path": plain}),
            gs.case(modified, V1, headers={"X-Header-Remove": "remove-val",
                                           "X-Header-Add-Append": "append-val-1"},
                    expected_request={"path": modified, "absent": ["X-Header-Remove"],
                                      "headers": {
                                          "X-Header-Add": "header-val-1",
                                          "X-Header-Add-Append": "append-val-1,header-val-2",
                                          "X-Header-Set": "set-overwrites-values"}})])
        for uri in (plain, modified):
            wait_for(lambda u=uri: _mirrored(cluster, u), 30, interval=0.5,
                     message=f"{uri} mirrored to {V2}")
        assert not _mirrored(cluster, f"/mirror?t={uuid.uuid4().hex}")
    finally:
        cluster.kubectl("delete", "httproute/request-mirror", "-n", NS, "--wait")


CORS_ROUTES = [
    _route("cors-multiple-origins-methods-headers", [{"matches": _prefix("/cors-1"), "filters": [
        {"type": "CORS", "cors": {
            "allowOrigins": ["https://www.foo.com", "https://*.bar.com"],
            "allowMethods": ["GET", "OPTIONS"], "allowHeaders": ["x-header-1", "x-header-2"],
            "exposeHeaders": ["x-header-3", "x-header-4"], "allowCredentials": True,
            "maxAge": 3600}}], "backendRefs": BACKEND}]),
    _route("cors-wildcard-methods", [{"matches": _prefix("/cors-2"), "filters": [
        {"type": "CORS", "cors": {"allowOrigins": ["https://www.foo.com"],
                                  "allowMethods": ["*"]}}], "backendRefs": BACKEND}]),
    _route("cors-wildcard-origin", [{"matches": _prefix("/cors-wildcard-origin"), "filters": [
        {"type": "CORS", "cors": {"allowOrigins": ["*"], "allowMethods": ["PUT"]}}],
        "backendRefs": BACKEND}]),
    _route("cors-wildcard-methods-headers", [
        {"matches": [{"path": {"type": "Exact", "value": "/cors-wildcard-methods-headers"}}],
         "filters": [{"type": "CORS", "cors": {
             "allowOrigins": ["https://*.foo.com"], "allowMethods": ["*"],
             "allowHeaders": ["*"], "allowCredentials": True}}], "backendRefs": BACKEND},
        {"matches": _prefix("/cors-wildcard-methods-headers-unauth"), "filters": [
            {"type": "CORS", "cors": {"allowOrigins": ["https://*.foo.com"],
                                      "allowMethods": ["*"], "allowHeaders": ["*"]}}],
         "backendRefs": BACKEND}])]
ALLOW_ORIGIN = "Access-Control-Allow-Origin"
CREDENTIALS = "Access-Control-Allow-Credentials"


def _preflight(path: str, origin: str, method: str, headers: str = "", status: int = 200,
               **want: str) -> dict[str, Any]:
    sent = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        sent["Access-Control-Request-Headers"] = headers
    return {"host": "example.com", "path": path, "method": "OPTIONS", "headers": sent,
            "status": status, "response_headers": {
                k.replace("_", "-"): v for k, v in want.items() if v != "absent"},
            "absent_response_headers": [k.replace("_", "-") for k, v in want.items()
                                        if v == "absent"]}


def _simple(path: str, origin: str, method: str = "GET", **want: str) -> dict[str, Any]:
    sent = {"Origin": origin, "Authorization": "Bearer test"}
    return {**gs.case(path, V1, method=method, headers=sent), **{
        "response_headers": {k.replace("_", "-"): v for k, v in want.items() if v != "absent"},
        "absent_response_headers": [k.replace("_", "-") for k, v in want.items()
                                    if v == "absent"]}}


def test_httproute_cors(cluster: Cluster, same_ns: str) -> None:
    gs.apply(cluster, CORS_ROUTES)
    try:
        for route in CORS_ROUTES:
            conds = gs.route_parent(cluster, route["metadata"]["name"], "same-namespace")
            assert conds["ResolvedRefs"]["status"] == "True"
        full = {"Access_Control_Allow_Methods": "GET,OPTIONS",
                "Access_Control_Allow_Headers": "x-header-1,x-header-2",
                "Access_Control_Expose_Headers": "x-header-3,x-header-4",
                "Access_Control_Max_Age": "3600", "Access_Control_Allow_Credentials": "true"}
        asked = "x-header-1, x-header-2"
        unauth = "/cors-wildcard-methods-headers-unauth"
        gs.expect(cluster, same_ns, [
            *(_preflight("/cors-1", origin, "GET", asked, **{"Access_Control_Allow_Origin":
                                                                 origin, **full})
              for origin in ("https://www.foo.com", "https://www.bar.com",
                             "https://xpto.www.bar.com")),
            _preflight("/cors-1", "https://foobar.com", "GET", status=204,
                       Access_Control_Allow_Origin="absent"),
            _simple("/cors-1", "https://www.foo.com",
                    Access_Control_Allow_Origin="https://www.foo.com"),
            _simple("/cors-1", "https://www.bar.com",
                    Access_Control_Allow_Origin="https://www.bar.com"),
            _simple("/cors-1", "https://foobar.com", Access_Control_Allow_Origin="absent"),
            _preflight("/cors-2", "https://www.foo.com", "POST",
                       Access_Control_Allow_Methods="POST",
                       Access_Control_Allow_Origin="https://www.foo.com",
                       Access_Control_Allow_Credentials="absent"),
            *(_preflight("/cors-wildcard-origin", origin, "PUT",
                         Access_Control_Allow_Origin=origin, Access_Control_Allow_Methods="PUT",
                         Access_Control_Allow_Credentials="absent")
              for origin in ("https://foobar.com", "https://foobar.com:12345")),
            *(_simple("/cors-wildcard-origin", origin, "PUT", Access_Control_Allow_Origin=origin,
                      Access_Control_Allow_Credentials="absent")
              for origin in ("https://foobar.com", "https://foobar.com:12345")),
            _preflight("/cors-wildcard-methods-headers", "https://other.foo.com", "PUT", asked,
                       Access_Control_Allow_Origin="https://other.foo.com",
                       Access_Control_Allow_Methods="PUT",
                       Access_Control_Allow_Headers=asked,
                       Access_Control_Allow_Credentials="true"),
            _preflight(unauth, "https://other.foo.com", "PUT", asked,
                       Access_Control_Allow_Origin="https://other.foo.com",
                       Access_Control_Allow_Methods="PUT", Access_Control_Allow_Headers=asked,
                       Access_Control_Allow_Credentials="absent"),
            _simple("/cors-wildcard-methods-headers", "https://other.foo.com",
                    Access_Control_Allow_Origin="https://other.foo.com",
                    Access_Control_Allow_Credentials="true"),
            _simple(unauth, "https://other.foo.com",
                    Access_Control_Allow_Origin="https://other.foo.com",
                    Access_Control_Allow_Credentials="absent")])
    finally:
        cluster.kubectl("delete", "httproute", "-n", NS, "--wait",
                        *(r["metadata"]["name"] for r in CORS_ROUTES))
