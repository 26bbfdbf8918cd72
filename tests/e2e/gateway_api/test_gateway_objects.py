"""GatewayClass and Gateway on a real cluster: provisioning the AKS way, and the Core
Gateway conformance tests, ported (status conditions, listeners, attachedRoutes,
supportedKinds, observedGeneration), with infrastructure propagation, the internal
load balancer, other classes left alone, Ingress beside Gateway API, and hitless
route and endpoint changes.
"""

from __future__ import annotations

import json
import os

import pytest

from portico.gateway.model import CLASS_NAME, CONTROLLER_NAME, GATEWAY_NAME_LABEL
from portico.testing.sandbox import Cluster, wait_for
from tests.e2e import gateway_support as gs
from tests.gateway_conformance import needs_conformance

pytestmark = [pytest.mark.e2e, needs_conformance,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root for netns")]
NS = gs.INFRA
V1, V2, V3 = "infra-backend-v1", "infra-backend-v2", "infra-backend-v3"
case = gs.case


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
    for kind in ("deployment", "service", "horizontalpodautoscaler", "poddisruptionbudget"):
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


def _autoscaling(cluster: Cluster, name: str) -> tuple[int, int, int] | None:
    hpa = gs.kubectl_json(cluster, "get", "horizontalpodautoscaler", name, "-n", NS)
    if hpa is None:
        return None
    spec, metric = hpa["spec"], hpa["spec"]["metrics"][0]["resource"]
    return spec["minReplicas"], spec["maxReplicas"], metric["target"]["averageUtilization"]


def test_gateway_autoscaler_is_aks_s_and_its_minimum_enforced(cluster: Cluster) -> None:
    name = "same-namespace-approuting-istio"
    assert _autoscaling(cluster, name) == (2, 5, 80)
    hpa = gs.kubectl_json(cluster, "get", "horizontalpodautoscaler", name, "-n", NS)
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                             "name": name}
    wait_for(lambda: (gs.kubectl_json(cluster, "get", "horizontalpodautoscaler", name, "-n",
                                      NS).get("status") or {}).get("currentReplicas") == 2,
             60, interval=0.5, message="the HPA controller sees the gateway's 2 pods")
    cluster.kubectl("patch", "horizontalpodautoscaler", name, "-n", NS, "--type=merge", "-p",
                    '{"spec":{"minReplicas":1}}', check=True)
    wait_for(lambda: _autoscaling(cluster, name) == (2, 5, 80), 30, interval=0.3,
             message="the controller puts minReplicas 2 back")
    assert gs.kubectl_json(cluster, "get", "deployment", name, "-n", NS)["spec"][
        "replicas"] == 2


# --- Gateway tests ---------------------------------------------------------------------
def _accepted(cluster: Cluster, gateway: str) -> tuple[str, str]:
    c = gs.condition({"status": gs.gateway_status(cluster, gateway)}, "Accepted")
    return c["status"], c["reason"]


def test_gatewayclass_observed_generation_bump(cluster: Cluster) -> None:
    name = "gatewayclass-observed-generation-bump"
    with gs.applied(cluster, name):
        def accepted_at() -> int | None:
            cls = gs.kubectl_json(cluster, "get", "gatewayclass", name)
            c = gs.condition(cls, "Accepted")
            return c.get("observedGeneration") if gs.current(cls, c) else None
        before = wait_for(accepted_at, 60, interval=0.3, message="class accepted")
        cluster.kubectl("patch", "gatewayclass", name, "--type=merge", "-p",
                        '{"spec":{"description":"bumped"}}', check=True)
        after = wait_for(accepted_at, 60, interval=0.3, message="class observed bump")
        assert after > before


def test_gateway_observed_generation_bump(cluster: Cluster) -> None:
    name = "gateway-observed-generation-bump"
    with gs.applied(cluster, name):
        before = gs.condition({"status": gs.gateway_status(cluster, name)}, "Accepted")
        cluster.kubectl("patch", "gateway", name, "-n", NS, "--type=json", "-p",
                        '[{"op":"add","path":"/spec/listeners/-","value":{"name":"http-2",'
                        '"port":8080,"protocol":"HTTP","hostname":"foo.com"}}]', check=True)
        status = gs.wait_listeners(cluster, name, {"http": {}, "http-2": {}})
        after = gs.condition({"status": status}, "Accepted")
        assert after["observedGeneration"] > before["observedGeneration"]


def test_gateway_invalid_parameters_ref(cluster: Cluster) -> None:
    with gs.applied(cluster, "gateway-invalid-parameters-ref"):
        assert _accepted(cluster, "gateway-invalid-parameters-ref") == \
            ("False", "InvalidParameters")


def test_gateway_invalid_route_kind(cluster: Cluster) -> None:
    with gs.applied(cluster, "gateway-invalid-route-kind"):
        invalid = {"ResolvedRefs": ("False", "InvalidRouteKinds")}
        gs.wait_listeners(cluster, "gateway-only-invalid-route-kind",
                          {"http": {"kinds": [], "conditions": invalid}})
        gs.wait_listeners(cluster, "gateway-supported-and-invalid-route-kind",
                          {"http": {"kinds": ["HTTPRoute"], "conditions": invalid}})


def test_gateway_invalid_tls_configuration(cluster: Cluster) -> None:
    with gs.applied(cluster, "gateway-invalid-tls-configuration"):
        for name in ("nonexistent-secret", "unsupported-group", "unsupported-kind",
                     "malformed-secret"):
            gs.wait_listeners(cluster, f"gateway-certificate-{name}", {"https": {"conditions": {
                "ResolvedRefs": ("False", "InvalidCertificateRef"),
                "Programmed": ("False", "Invalid")}}})


def test_gateway_listener_unsupported_protocol(cluster: Cluster) -> None:
    with gs.applied(cluster, "gateway-invalid-listeners-unsupported-protocol"):
        bad = {"kinds": [], "conditions": {"Accepted": ("False", "UnsupportedProtocol")}}
        gs.wait_listeners(cluster, "gateway-only-unsupported-protocols", {"invalid": bad})
        assert _accepted(cluster, "gateway-only-unsupported-protocols") == \
            ("False", "ListenersNotValid")
        gs.wait_listeners(cluster, "gateway-supported-and-unsupported-protocols",
                          {"invalid": bad, "http": {"conditions": gs.OK}})
        assert _accepted(cluster, "gateway-supported-and-unsupported-protocols") == \
            ("True", "ListenersNotValid")


@pytest.mark.parametrize(("manifest", "resolved"), [
    ("gateway-secret-missing-reference-grant", ("False", "RefNotPermitted")),
    ("gateway-secret-invalid-reference-grant", ("False", "RefNotPermitted")),
    ("gateway-secret-reference-grant-all-in-namespace", ("True", "ResolvedRefs")),
    ("gateway-secret-reference-grant-specific", ("True", "ResolvedRefs"))])
def test_gateway_secret_reference_grants(cluster: Cluster, manifest: str,
                                         resolved: tuple[str, str]) -> None:
    with gs.applied(cluster, manifest):
        programmed = ("True", "Programmed") if resolved[0] == "True" else ("False", "Invalid")
        gs.wait_listeners(cluster, manifest, {"https": {"conditions": {
            "ResolvedRefs": resolved, "Programmed": programmed}}})


def test_gateway_with_attached_routes(cluster: Cluster) -> None:
    with gs.applied(cluster, "gateway-with-attached-routes"):
        gs.wait_listeners(cluster, "gateway-with-one-attached-route",
                          {"http": {"attached": 1, "conditions": gs.OK}})
        gs.wait_listeners(cluster, "gateway-with-two-attached-routes",
                          {"http": {"attached": 2, "conditions": gs.OK}})
        gs.wait_listeners(cluster, "unresolved-gateway-with-one-attached-unresolved-route",
                          {"tls": {"attached": 1, "conditions": {
                              "ResolvedRefs": ("False", "InvalidCertificateRef")}}})


def test_gateway_modify_listeners(cluster: Cluster) -> None:
    with gs.applied(cluster, "gateway-modify-listeners"):
        add, remove = "gateway-add-listener", "gateway-remove-listener"
        gs.wait_listeners(cluster, add, {"https": {"attached": 1, "conditions": gs.OK}})
        cluster.kubectl("patch", "gateway", add, "-n", NS, "--type=json", "-p",
                        '[{"op":"add","path":"/spec/listeners/-","value":{"name":"http",'
                        '"port":80,"protocol":"HTTP","hostname":"data.test.com",'
                        '"allowedRoutes":{"namespaces":{"from":"All"}}}}]', check=True)
        gs.wait_listeners(cluster, add, {"https": {"attached": 1, "conditions": gs.OK},
                                         "http": {"attached": 1, "conditions": gs.OK}})
        gs.expect(cluster, gs.address(cluster, add), [case("/", host="data.test.com")])
        gs.wait_listeners(cluster, remove, {"https": {"attached": 1}, "http": {"attached": 1}})
        gs.expect(cluster, gs.address(cluster, remove), [
            case("/", host="secure.test.com", https=True)])
        cluster.kubectl("patch", "gateway", remove, "-n", NS, "--type=json", "-p",
                        '[{"op":"remove","path":"/spec/listeners/0"}]', check=True)
        gs.wait_listeners(cluster, remove, {"http": {"attached": 1, "conditions": gs.OK}})
        gs.expect(cluster, gs.address(cluster, remove), [
            {"host": "secure.test.com", "path": "/", "https": True, "status": "unreachable"}])


def test_gateway_name_maximum_length(cluster: Cluster) -> None:
    with gs.applied(cluster, "gateway-name-maximum-length") as docs:
        name = docs[0]["metadata"]["name"]
        assert len(name) == 253
        waited = cluster.kubectl("wait", "--for=condition=programmed", f"gateway/{name}",
                                 "-n", NS, "--timeout=120s", timeout=130)
        assert waited.returncode == 0, waited.stderr
        deployments = gs.kubectl_json(cluster, "get", "deployment", "-n", NS)["items"]
        owned = [d for d in deployments
                 if any(o["name"] == name for o in d["metadata"].get("ownerReferences") or [])]
        assert len(owned) == 1 and len(owned[0]["metadata"]["name"]) <= 63


GENERATED = ("deployment", "service", "serviceaccount", "horizontalpodautoscaler",
             "poddisruptionbudget")


def test_generated_objects_go_with_their_gateway(cluster: Cluster) -> None:
    """The garbage collector deletes everything the Gateway owns, as on AKS."""
    gateway = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
               "metadata": {"name": "short-lived", "namespace": NS},
               "spec": {"gatewayClassName": CLASS_NAME,
                        "listeners": [{"name": "http", "port": 80, "protocol": "HTTP"}]}}
    gs.apply(cluster, [gateway])
    name = "short-lived-approuting-istio"

    def present() -> list[str]:
        return [kind for kind in GENERATED
                if cluster.kubectl("get", kind, name, "-n", NS).returncode == 0]
    wait_for(lambda: present() == list(GENERATED), 60, interval=0.5,
             message="the Gateway's objects provisioned")
    cluster.kubectl("delete", "gateway", "short-lived", "-n", NS, "--wait", check=True)
    wait_for(lambda: present() == [], 60, interval=0.5,
             message="the Gateway's objects garbage-collected")


def test_gateway_of_another_class_is_ignored(cluster: Cluster) -> None:
    other = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
             "metadata": {"name": "other-class", "namespace": NS},
             "spec": {"gatewayClassName": "someone-else",
                      "listeners": [{"name": "http", "port": 80, "protocol": "HTTP"}]}}
    gs.apply(cluster, [other])
    try:
        gs.wait_listeners(cluster, "same-namespace", {"http": {}})  # a sync has run since
        gw = gs.kubectl_json(cluster, "get", "gateway", "other-class", "-n", NS)
        assert gs.condition(gw, "Accepted")["reason"] == "Pending"
        assert "listeners" not in gw["status"]
        assert cluster.kubectl("get", "deployment", "other-class-someone-else", "-n",
                               NS).returncode != 0
    finally:
        cluster.kubectl("delete", "gateway", "other-class", "-n", NS, "--wait")


def test_ingress_keeps_working_beside_gateway_api_on_its_own_ip(cluster: Cluster,
                                                               same_ns: str) -> None:
    ingress_ip = wait_for(lambda: cluster.kubectl(
        "get", "service", "nginx", "-n", "app-routing-system", "-o",
        "jsonpath={.status.loadBalancer.ingress[0].ip}").stdout.strip(), 90,
        message="the ingress addon's EXTERNAL-IP")
    assert ingress_ip != same_ns
    ingress = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
               "metadata": {"name": "beside", "namespace": NS},
               "spec": {"rules": [{"host": "ingress.example", "http": {"paths": [
                   {"path": "/", "pathType": "Prefix", "backend": {
                       "service": {"name": V1, "port": {"number": 8080}}}}]}}]}}
    gs.apply(cluster, [ingress])
    try:
        with gs.applied(cluster, "httproute-simple-same-namespace"):
            gs.expect(cluster, ingress_ip, [case("/", host="ingress.example")])
            gs.expect(cluster, same_ns, [case("/", V1)])
    finally:
        cluster.kubectl("delete", "ingress/beside", "-n", NS, "--wait")


def test_infrastructure_labels_annotations_and_internal_load_balancer(cluster: Cluster) -> None:
    internal = "service.beta.kubernetes.io/azure-load-balancer-internal"
    gateway = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
               "metadata": {"name": "internal", "namespace": NS},
               "spec": {"gatewayClassName": CLASS_NAME,
                        "infrastructure": {"labels": {"team": "payments"},
                                           "annotations": {internal: "true"}},
                        "listeners": [{"name": "http", "port": 8080, "protocol": "HTTP"}]}}
    route = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
             "metadata": {"name": "internal", "namespace": NS},
             "spec": {"parentRefs": [{"name": "internal"}],
                      "rules": [{"backendRefs": [{"name": V1, "port": 8080}]}]}}
    gs.apply(cluster, [gateway, route])
    try:
        addr = gs.address(cluster, "internal")
        assert addr.startswith("10.224."), addr  # the node subnet, not the public pool
        for kind in ("service", "deployment"):
            obj = gs.kubectl_json(cluster, "get", kind, "internal-approuting-istio", "-n", NS)
            assert obj["metadata"]["labels"]["team"] == "payments"
            assert obj["metadata"]["annotations"][internal] == "true"
        gs.expect(cluster, addr, [case("/", port=8080)])
    finally:
        cluster.kubectl("delete", "httproute/internal", "gateway/internal", "-n", NS, "--wait")


def test_route_and_endpoint_changes_are_hitless(cluster: Cluster, same_ns: str) -> None:
    """Requests back to back while the route changes (reloads) and the backend scales
    (runtime API): every one is answered 200."""
    with gs.applied(cluster, "httproute-simple-same-namespace"):
        gs.route_parent(cluster, "gateway-conformance-infra-test", "same-namespace")
        gs.expect(cluster, same_ns, [case("/")])
        soak = cluster.sandbox.popen([gs.VENV_PYTHON, str(gs.PROBE), same_ns, json.dumps(
            [{"host": "example.com", "path": "/"}]), "for=12"])
        try:
            for i in range(4):
                cluster.kubectl("patch", "httproute", "gateway-conformance-infra-test", "-n", NS,
                                "--type=merge", "-p", json.dumps({"spec": {"rules": [{
                                    "matches": [{"path": {"type": "PathPrefix", "value": "/"}},
                                                {"headers": [{"name": "x-change",
                                                              "value": str(i)}]}],
                                    "backendRefs": [{"name": V1, "port": 8080}]}]}}),
                                check=True)
            cluster.kubectl("scale", "deployment", V1, "-n", NS, "--replicas=3", check=True)
            out, err = soak.communicate(timeout=60)
        finally:
            cluster.kubectl("scale", "deployment", V1, "-n", NS, "--replicas=2")
            if soak.poll() is None:
                soak.kill()
                soak.wait()
        counts = json.loads(out)
        assert set(counts) == {"200"} and counts["200"] > 50, (counts, err)
