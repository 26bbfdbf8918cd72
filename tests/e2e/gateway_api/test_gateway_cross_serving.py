"""An HTTPRoute and a GRPCRoute on one listener with one hostname, on a real cluster.

The GRPCRoute spec's cross-serving rule: exactly one of the two is accepted,
the older. The HTTPRoute is created first; the GRPCRoute naming the same
hostname gets Accepted False (HostnameConflict) on that parentRef, is not
counted in attachedRoutes, and the hostname keeps reaching the HTTPRoute's
backend. Once the HTTPRoute is deleted, the GRPCRoute is accepted and gRPC
calls reach its backend over h2c. Requests only leave from the sandbox.
"""

from __future__ import annotations

import os

import pytest

from portico.testing.sandbox import Cluster, wait_for
from tests.e2e import gateway_support as gs
from tests.gateway_conformance import needs_conformance

pytestmark = [pytest.mark.e2e, needs_conformance,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root for netns")]
NS = gs.INFRA
HOST = "both.example.com"
SERVICE = "gateway_api_conformance.echo_basic.grpcecho.GrpcEcho"


def _http_route() -> dict[str, object]:
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": "cross-a-http", "namespace": NS},
            "spec": {"parentRefs": [{"name": "same-namespace"}], "hostnames": [HOST],
                     "rules": [{"backendRefs": [{"name": "infra-backend-v1", "port": 8080}]}]}}


def _grpc_route() -> dict[str, object]:
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GRPCRoute",
            "metadata": {"name": "cross-b-grpc", "namespace": NS},
            "spec": {"parentRefs": [{"name": "same-namespace"}], "hostnames": [HOST],
                     "rules": [{"backendRefs": [{"name": "grpc-infra-backend-v1",
                                                 "port": 8080}]}]}}


def test_http_and_grpc_route_on_one_hostname_only_the_older_is_accepted(
        cluster: Cluster, same_ns: str) -> None:
    gs.apply(cluster, [_http_route()])
    try:
        gs.route_parent(cluster, "cross-a-http", "same-namespace")
        gs.apply(cluster, [_grpc_route()])
        conds = gs.route_parent(cluster, "cross-b-grpc", "same-namespace", "False",
                                kind="grpcroute")
        assert conds["Accepted"]["reason"] == "HostnameConflict"
        assert "HTTPRoute gateway-conformance-infra/cross-a-http" in \
            conds["Accepted"]["message"]
        assert gs.route_parent(cluster, "cross-a-http", "same-namespace")["Accepted"][
            "reason"] == "Accepted"
        gs.wait_listeners(cluster, "same-namespace", {"http": {"attached": 1,
                                                               "conditions": gs.OK}})
        gs.expect(cluster, same_ns, [gs.case("/", host=HOST)])
        cluster.kubectl("delete", "httproute/cross-a-http", "-n", NS, "--wait", check=True)
        gs.route_parent(cluster, "cross-b-grpc", "same-namespace", kind="grpcroute")
        wait_for(lambda: gs.grpc_call(cluster, same_ns, f"/{SERVICE}/Echo", host=HOST)[1].get(
            "x-echo-pod", "").startswith("grpc-infra-backend-v1"), 30, interval=0.2,
            message="the GRPCRoute serves the hostname once the HTTPRoute is gone")
    finally:
        cluster.kubectl("delete", "--ignore-not-found", "httproute/cross-a-http",
                        "grpcroute/cross-b-grpc", "-n", NS, "--wait")
