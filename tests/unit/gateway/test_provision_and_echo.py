"""Unit tests: the per-Gateway manifests (names, labels, owner, ports, infrastructure,
autoscaler) and
the echo-basic helpers (durations, /status/NNN, X-Echo-Set-Header)."""

from __future__ import annotations

from portico.gateway import provision
from portico.gateway.model import CLASS_NAME, GATEWAY_CLASS_LABEL, GATEWAY_NAME_LABEL
from portico.images import echo_basic

INTERNAL = "service.beta.kubernetes.io/azure-load-balancer-internal"
GATEWAY = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
           "metadata": {"name": "web", "namespace": "shop", "uid": "u-1"},
           "spec": {"gatewayClassName": CLASS_NAME,
                    "infrastructure": {"labels": {"team": "a"},
                                       "annotations": {INTERNAL: "true"}},
                    "listeners": [{"name": "http", "port": 80, "protocol": "HTTP"},
                                  {"name": "https", "port": 443, "protocol": "HTTPS"},
                                  {"name": "other", "port": 80, "protocol": "HTTP",
                                   "hostname": "x.example"}]}}


def test_objects_are_named_labelled_and_owned_as_on_aks() -> None:
    for manifest in (provision.deployment(GATEWAY), provision.service(GATEWAY),
                     provision.disruption_budget(GATEWAY), provision.autoscaler(GATEWAY)):
        meta = manifest["metadata"]
        assert (meta["name"], meta["namespace"]) == ("web-approuting-istio", "shop")
        assert meta["labels"] == {"team": "a", GATEWAY_NAME_LABEL: "web",
                                  GATEWAY_CLASS_LABEL: CLASS_NAME}
        assert meta["annotations"] == {INTERNAL: "true"}
        owner = meta["ownerReferences"][0]
        assert (owner["kind"], owner["name"], owner["uid"], owner["controller"]) == \
            ("Gateway", "web", "u-1", True)


def test_service_exposes_status_and_listener_ports_once() -> None:
    svc = provision.service(GATEWAY)
    assert svc["spec"]["type"] == "LoadBalancer"
    assert [p["port"] for p in svc["spec"]["ports"]] == [15021, 80, 443]
    assert provision.deployment(GATEWAY)["spec"]["replicas"] == 2
    assert provision.disruption_budget(GATEWAY)["spec"]["minAvailable"] == 1


def test_autoscaler_is_aks_s_and_the_deployment_keeps_its_count() -> None:
    spec = provision.autoscaler(GATEWAY)["spec"]
    assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                      "name": "web-approuting-istio"}
    assert (spec["minReplicas"], spec["maxReplicas"]) == (2, 5)
    assert spec["metrics"] == [{"type": "Resource", "resource": {"name": "cpu", "target": {
        "type": "Utilization", "averageUtilization": 80}}}]
    deployment = provision.deployment(GATEWAY, 4)
    assert deployment["spec"]["replicas"] == 4
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"]["requests"]["cpu"] == "100m"   # utilization's base


def test_name_override_annotation() -> None:
    gateway = {**GATEWAY, "metadata": {**GATEWAY["metadata"], "annotations": {
        provision.NAME_OVERRIDE: "custom"}}}
    assert provision.object_name(gateway) == "custom"


def test_echo_helpers() -> None:
    assert echo_basic.duration_seconds("1m30s") == 90.0
    assert echo_basic.duration_seconds("250ms") == 0.25
    assert echo_basic.status_code("/status/418?x=1") == 418
    assert echo_basic.status_code("/status") == 200
    assert echo_basic.echo_headers("A: 1, B:two,bad") == [("A", "1"), ("B", "two")]
