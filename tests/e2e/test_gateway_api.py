"""Gateway API the AKS way, on a real cluster: the conformance suite's Core tests, ported.

One `portico up` (2 nodes) for the module; `gateway_support.setup` installs the
CRDs and the conformance base (Gateways of class `approuting-istio`, echo
backends). Each test applies its upstream manifest (../shared/conformance),
waits for the statuses upstream waits for, checks them, then sends requests
through the Gateway's load balancer address from the sandbox and checks the
echo backend's view (gateway_probe.py: 3 consecutive matches within 30 s), and
deletes its manifests. Requests only ever leave from the sandbox netns.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from portico.gateway.model import CLASS_NAME, CONTROLLER_NAME, GATEWAY_NAME_LABEL
from portico.testing.sandbox import Cluster
from tests.e2e import gateway_support as gs
from tests.e2e.cluster_support import running_cluster
from tests.gateway_conformance import needs_conformance

pytestmark = [pytest.mark.e2e, needs_conformance,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root for netns")]
NS = gs.INFRA
V1, V2, V3 = "infra-backend-v1", "infra-backend-v2", "infra-backend-v3"


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    for running in running_cluster(2):
        gs.setup(running)
        yield running


@pytest.fixture(scope="module")
def same_ns(cluster: Cluster) -> str:
    return gs.address(cluster, "same-namespace")


def case(path: str, backend: str = V1, ns: str = NS, **more: object) -> dict[str, object]:
    return {"host": more.pop("host", "example.com"), "path": path, "backend": backend,
            "namespace": ns, **more}


def test_gatewayclass_is_accepted_with_supported_features(cluster: Cluster) -> None:
    cls = gs.kubectl_json(cluster, "get", "gatewayclass", CLASS_NAME)
    assert cls["spec"]["controllerName"] == CONTROLLER_NAME
    accepted = gs.condition(cls, "Accepted")
    assert (accepted["status"], accepted["reason"]) == ("True", "Accepted")
    assert gs.current(cls, accepted)
    features = [f["name"] for f in cls["status"]["supportedFeatures"]]
    assert features == sorted(features) and {"Gateway", "HTTPRoute", "ReferenceGrant"} <= \
        set(features)


def test_gateway_provisions_deployment_and_load_balancer(cluster: Cluster, same_ns: str) -> None:
    gw = gs.kubectl_json(cluster, "get", "gateway", "same-namespace", "-n", NS)
    name = "same-namespace-approuting-istio"
    for kind in ("deployment", "service"):
        obj = gs.kubectl_json(cluster, "get", kind, name, "-n", NS)
        labels = obj["metadata"]["labels"]
        assert labels[GATEWAY_NAME_LABEL] == "same-namespace"
        assert labels["gateway.networking.k8s.io/gateway-class-name"] == CLASS_NAME
        owner = obj["metadata"]["ownerReferences"][0]
        assert (owner["kind"], owner["name"], owner["uid"]) == \
            ("Gateway", "same-namespace", gw["metadata"]["uid"])
    deploy = gs.kubectl_json(cluster, "get", "deployment", name, "-n", NS)
    assert deploy["spec"]["replicas"] == 2
    svc = gs.kubectl_json(cluster, "get", "service", name, "-n", NS)
    assert svc["spec"]["type"] == "LoadBalancer"
    assert {p["port"] for p in svc["spec"]["ports"]} == {15021, 80}
    assert svc["status"]["loadBalancer"]["ingress"][0]["ip"] == same_ns
    assert gw["status"]["addresses"] == [{"type": "IPAddress", "value": same_ns}]
    waited = cluster.kubectl("wait", "--for=condition=programmed", "gateway/same-namespace",
                             "-n", NS, "--timeout=30s")
    assert waited.returncode == 0, waited.stderr


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
