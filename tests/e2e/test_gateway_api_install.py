"""Gateway API the AKS way, the parts around the controller: the managed CRD install
of `portico up` and `portico gateway convert`, with the real kubectl.

Every test cluster gets the bundle from `../shared/conformance` through
`$PORTICO_GATEWAY_API_CRDS` (the harness's default), so none tries the network;
the download path is unit-tested against a loopback server.  The converted YAML
is checked by the API server itself: `kubectl apply --dry-run=server` validates it
against the installed CRDs (schemas and CEL rules).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from portico.testing.sandbox import GATEWAY_API_BUNDLE, Cluster
from tests.conftest import Kubectl

GROUP = "gateway.networking.k8s.io"
NGINX = "nginx.ingress.kubernetes.io/"

pytestmark = pytest.mark.skipif(not GATEWAY_API_BUNDLE.exists(),
                                reason=f"{GATEWAY_API_BUNDLE} is not on this machine")


def bundle_crds() -> set[str]:
    docs = yaml.load_all(GATEWAY_API_BUNDLE.read_text(), Loader=yaml.CSafeLoader)
    return {d["metadata"]["name"] for d in docs
            if d and d["kind"] == "CustomResourceDefinition"}


def established(cluster: Cluster) -> set[str]:
    listed = json.loads(cluster.kubectl("get", "crd", "-o", "json", check=True).stdout)
    return {c["metadata"]["name"] for c in listed["items"]
            if any(x["type"] == "Established" and x["status"] == "True"
                   for x in c["status"].get("conditions", []))}


def portico(cluster: Cluster, *args: str) -> tuple[int, str, str]:
    result = cluster.sandbox.run([os.fspath(cluster.portico), *args,
                                  "--data-dir", os.fspath(cluster.data_dir)])
    return result.returncode, result.stdout, result.stderr


def test_crds_are_established_when_portico_wait_returns(cluster: Cluster) -> None:
    assert bundle_crds() <= established(cluster)  # `portico wait` has returned
    code, out, _ = portico(cluster, "wait")
    assert code == 0
    assert "ready, Gateway API v1.6.1 CRDs Established" in out
    policy = cluster.kubectl("get", "validatingadmissionpolicy",
                             f"safe-upgrades.{GROUP}", check=True)
    assert f"safe-upgrades.{GROUP}" in policy.stdout
    crd = json.loads(cluster.kubectl("get", "crd", f"gateways.{GROUP}", "-o", "json",
                                     "--show-managed-fields", check=True).stdout)
    assert crd["metadata"]["annotations"][f"{GROUP}/bundle-version"] == "v1.6.1"
    managers = {m["manager"] for m in crd["metadata"]["managedFields"]}
    assert "portico-addon-manager" in managers  # server-side applied, like the addons
    state = json.loads((cluster.data_dir / "gateway-api.json").read_text())
    assert (state["state"], state["source"]) == ("installed", os.fspath(GATEWAY_API_BUNDLE))


def test_restart_applies_again_only_what_changed(fresh_cluster: Cluster) -> None:
    def versions() -> dict[str, str]:
        listed = json.loads(fresh_cluster.kubectl("get", "crd", "-o", "json").stdout)
        return {c["metadata"]["name"]: c["metadata"]["resourceVersion"]
                for c in listed["items"]}

    before = versions()
    fresh_cluster.stop()
    fresh_cluster.start()
    assert versions() == before
    assert "Gateway API v1.6.1 standard CRDs in place" in fresh_cluster.log_tail(40)
    name = f"grpcroutes.{GROUP}"
    fresh_cluster.kubectl("delete", "crd", name, check=True)
    fresh_cluster.kubectl("annotate", "crd", f"gateways.{GROUP}", "mine=1", check=True)
    fresh_cluster.stop()
    fresh_cluster.start()  # the addon manager brings the bundle back
    assert bundle_crds() <= established(fresh_cluster)
    assert versions()[name] != before[name]
    annotated = json.loads(fresh_cluster.kubectl("get", "crd", f"gateways.{GROUP}", "-o",
                                                 "json", check=True).stdout)
    assert annotated["metadata"]["annotations"]["mine"] == "1"  # not a field of ours


def test_without_a_bundle_the_cluster_works_and_says_why(tmp_path: Path) -> None:
    wrong = tmp_path / "standard-install.yaml"
    wrong.write_text(GATEWAY_API_BUNDLE.read_text().replace("v1.6.1", "v1.6.2"))
    with Cluster(nodes=0, env={"PORTICO_GATEWAY_API_CRDS": os.fspath(wrong)}) as cluster:
        code, out, _ = portico(cluster, "wait")
        assert code == 0
        assert "ready without the Gateway API CRDs" in out
        assert "is not Gateway API v1.6.1's standard-install.yaml" in out
        assert "Gateway API CRDs not installed" in cluster.log_tail(200)
        assert not bundle_crds() & established(cluster)
        cluster.kubectl("create", "configmap", "still-works", check=True)


def _service(name: str, port_name: str) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"ports": [{"name": port_name, "port": 8080}], "selector": {"app": name}}}


def _ingress(name: str, spec: dict[str, object],
             annotations: dict[str, str]) -> dict[str, object]:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": name, "annotations": annotations}, "spec": spec}


def _backend(service: str, port: dict[str, object]) -> dict[str, object]:
    return {"service": {"name": service, "port": port}}


def _ingresses() -> list[dict[str, object]]:
    web = _backend("web", {"name": "http"})
    return [
        _service("web", "http"), _service("web-v2", "http"),
        _ingress("shop", {
            "ingressClassName": "webapprouting.kubernetes.azure.com",
            "tls": [{"hosts": ["shop.example.com"], "secretName": "shop-tls"}],
            "rules": [{"host": "shop.example.com", "http": {"paths": [
                {"path": "/", "pathType": "Prefix", "backend": web},
                {"path": "/api(/|$)(.*)", "pathType": "ImplementationSpecific",
                 "backend": _backend("web", {"number": 8080})}]}}]},
            {NGINX + "rewrite-target": "/$2", NGINX + "proxy-read-timeout": "30",
             NGINX + "limit-rps": "5"}),
        _ingress("shop-canary", {
            "ingressClassName": "webapprouting.kubernetes.azure.com",
            "rules": [{"host": "shop.example.com", "http": {"paths": [
                {"path": "/", "pathType": "Prefix",
                 "backend": _backend("web-v2", {"number": 8080})}]}}]},
            {NGINX + "canary": "true", NGINX + "canary-weight": "10",
             NGINX + "canary-by-header": "X-Canary"}),
        _ingress("catch-all", {"defaultBackend": web}, {NGINX + "force-ssl-redirect": "false"}),
    ]


def test_convert_prints_objects_the_crds_accept(kubectl133: Kubectl) -> None:
    k, cluster = kubectl133, kubectl133.cluster
    k.ok("apply", "-f", "-", input=yaml.safe_dump_all(_ingresses()))
    code, out, err = portico(cluster, "gateway", "convert", "-n", k.namespace)
    assert code == 0, err
    docs = [d for d in yaml.safe_load_all(out) if d]
    assert [(d["kind"], d["metadata"]["name"]) for d in docs] == [
        ("Gateway", "gateway"), ("HTTPRoute", "catch-all"),
        ("HTTPRoute", "shop-shop-example-com"),
        ("HTTPRoute", "shop-shop-example-com-https-redirect")]
    assert docs[0]["spec"]["gatewayClassName"] == "approuting-istio"
    route = docs[2]["spec"]["rules"]
    assert route[0]["matches"][0]["headers"] == [{"name": "X-Canary", "value": "always"}]
    assert route[2]["backendRefs"] == [{"name": "web", "port": 8080, "weight": 90},
                                       {"name": "web-v2", "port": 8080, "weight": 10}]
    assert "limit-rps: no Gateway API form" in err
    assert "limit-rps: no Gateway API form" in out.split("---")[0]
    applied = k.ok("apply", "--dry-run=server", "-f", "-", input=out)
    assert applied.split("\n")[:2] == ["gateway.gateway.networking.k8s.io/gateway created "
                                       "(server dry run)",
                                       "httproute.gateway.networking.k8s.io/catch-all created "
                                       "(server dry run)"]
    assert k.ok("get", "httproutes,gateways").strip() == ""  # a dry run stores nothing


def test_convert_all_namespaces_reads_every_namespace(kubectl133: Kubectl) -> None:
    k, cluster = kubectl133, kubectl133.cluster
    k.ok("apply", "-f", "-", input=yaml.safe_dump_all(_ingresses()[:3]))
    code, out, err = portico(cluster, "gateway", "convert", "-A", "--gateway-name", "migrated")
    assert code == 0, err
    gateways = [d["metadata"] for d in yaml.safe_load_all(out) if d and d["kind"] == "Gateway"]
    assert {"name": "migrated", "namespace": k.namespace} in gateways
