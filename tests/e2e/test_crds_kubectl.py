"""CustomResourceDefinitions with the real kubectl 1.32 and 1.33 against `portico up`.

The Gateway API standard-channel bundle is read from `../shared/conformance`
(never copied into the project) and installed unchanged, on a cluster started
without its managed install (`WITHOUT_GATEWAY_API`), with
`kubectl apply --server-side` and with `kubectl create`; a small CRD of the tests'
own exercises what the bundle does not (printer columns, scale, status, field
selectors, strategic merge patch refused, deletion of instances with the CRD).
One cluster serves the whole module; the durability test has its own.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from e2e_support import LineReader

from portico.testing.sandbox import WITHOUT_GATEWAY_API, Cluster, end_process, wait_for
from tests.conftest import Kubectl, new_namespace

BUNDLE = (Path(__file__).resolve().parents[3] / "shared" / "conformance" / "gateway-api"
          / "standard-install.yaml")
GATEWAY_GROUP = "gateway.networking.k8s.io"
GROUP = "toys.example.com"
CLUSTER_ENV = WITHOUT_GATEWAY_API  # these tests install the bundle themselves

pytestmark = pytest.mark.skipif(not BUNDLE.exists(), reason=f"{BUNDLE} is not on this machine")


def bundle_crds() -> list[str]:
    names = []
    lines = BUNDLE.read_text().splitlines()
    for i, line in enumerate(lines):
        if line == "kind: CustomResourceDefinition":
            names += [ln.split(":", 1)[1].strip() for ln in lines[i:i + 20]
                      if ln.startswith("  name: ")][:1]
    return names


def install(k: Kubectl, *args: str) -> None:
    """`kubectl <args> -f BUNDLE`: every object of the bundle is accepted."""
    k.ok(*args, "-f", str(BUNDLE))


def all_established(k: Kubectl, names: list[str]) -> bool:
    listed = json.loads(k.ok("get", "crd", "-o", "json"))
    ready = set()
    for crd in listed["items"]:
        conditions = {c["type"]: c["status"] for c in crd["status"].get("conditions", [])}
        if conditions.get("Established") == "True" and conditions.get("NamesAccepted") == "True":
            ready.add(crd["metadata"]["name"])
    return set(names) <= ready


def toy_crd() -> str:
    schema = {
        "type": "object",
        "properties": {
            "spec": {"type": "object", "description": "The toy's wishes.", "properties": {
                "color": {"type": "string", "description": "The colour of the paint.",
                          "enum": ["red", "green", "blue"], "default": "red"},
                "replicas": {"type": "integer", "minimum": 0},
                "size": {"type": "object", "description": "How big.", "properties": {
                    "height": {"type": "integer", "description": "Height in cm."}}},
            }},
            "status": {"type": "object", "properties": {
                "replicas": {"type": "integer"}, "state": {"type": "string"}}},
        },
    }
    version = {
        "name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": schema},
        "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.replicas",
                                                 "statusReplicasPath": ".status.replicas"}},
        "additionalPrinterColumns": [
            {"name": "Color", "type": "string", "jsonPath": ".spec.color"},
            {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas",
             "priority": 1},
            {"name": "State", "type": "string", "jsonPath": ".status.state"}],
        "selectableFields": [{"jsonPath": ".spec.color"}],
    }
    return json.dumps({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"robots.{GROUP}"},
        "spec": {"group": GROUP, "scope": "Namespaced", "versions": [version],
                 "names": {"plural": "robots", "kind": "Robot", "shortNames": ["rb"],
                           "categories": ["toys"]}},
    })


def robot(name: str, **spec: Any) -> str:
    return json.dumps({"apiVersion": f"{GROUP}/v1", "kind": "Robot",
                       "metadata": {"name": name}, "spec": spec})


def test_gateway_api_bundle_server_side(kubectl: Kubectl) -> None:
    names = bundle_crds()
    assert len(names) == 10
    started = time.monotonic()
    install(kubectl, "apply", "--server-side")
    wait_for(lambda: all_established(kubectl, names), 10, interval=0.1,
             message="every Gateway API CRD Established")
    assert time.monotonic() - started < 10
    resources = kubectl.ok("api-resources", f"--api-group={GATEWAY_GROUP}", "-o", "name")
    assert f"gateways.{GATEWAY_GROUP}" in resources.split()
    assert f"httproutes.{GATEWAY_GROUP}" in resources.split()
    explained = kubectl.ok("explain", "gateway.spec.listeners.port")
    assert "Port is the network port" in explained
    explained = kubectl.ok("explain", "httproutes.spec.rules.matches.path")
    assert "Path specifies a HTTP request path matcher" in explained
    kubectl.ok("create", "-f", "-", input=json.dumps({
        "apiVersion": f"{GATEWAY_GROUP}/v1", "kind": "Gateway", "metadata": {"name": "gw"},
        "spec": {"gatewayClassName": "example", "listeners": [
            {"name": "http", "port": 80, "protocol": "HTTP"}]}}))
    listed = kubectl.ok("get", "gateway-api", "-A")
    assert "gateway.gateway.networking.k8s.io/gw" in listed
    got = kubectl.ok("get", "gateways")
    assert got.split("\n")[0].split() == ["NAME", "CLASS", "ADDRESS", "PROGRAMMED", "AGE"]
    assert got.split("\n")[1].split()[:2] == ["gw", "example"]


def test_gateway_api_bundle_create(cluster: Cluster) -> None:
    k = Kubectl(cluster, "1.33", new_namespace(cluster))
    names = bundle_crds()
    k("delete", "-f", str(BUNDLE), "--ignore-not-found", timeout=120)
    wait_for(lambda: not set(names) & set(k.ok("get", "crd", "-o", "name").replace(
        "customresourcedefinition.apiextensions.k8s.io/", "").split()), 60, interval=0.2,
        message="the bundle's CRDs deleted")
    install(k, "create")
    wait_for(lambda: all_established(k, names), 10, interval=0.1,
             message="every Gateway API CRD Established")
    assert "No resources found" in k("get", "gateway-api", "-A").stderr


def test_own_crd_with_kubectl(kubectl: Kubectl) -> None:
    k = kubectl
    k("delete", "crd", f"robots.{GROUP}", "--ignore-not-found", "--wait=true")
    k.ok("create", "-f", "-", input=toy_crd())
    k.ok("wait", "--for", "condition=established", f"crd/robots.{GROUP}", "--timeout=10s")
    assert k.ok("get", "crds", f"robots.{GROUP}").splitlines()[0].split() == [
        "NAME", "CREATED", "AT"]
    assert "api-extensions" in k.ok("api-resources", "--api-group=apiextensions.k8s.io",
                                    "-o", "wide")
    k.ok("create", "-f", "-", input=robot("r1", replicas=1))
    k.ok("apply", "-f", "-", input=robot("r2", color="blue"))
    wide = k.ok("get", "rb", "-o", "wide").splitlines()
    assert wide[0].split() == ["NAME", "COLOR", "REPLICAS", "STATE"]
    assert wide[1].split() == ["r1", "red", "1"]
    assert k.ok("get", "toys").splitlines()[0].split() == ["NAME", "COLOR", "STATE"]
    assert k.ok("get", "robots", "--field-selector", "spec.color=blue", "-o", "name") == \
        f"robot.{GROUP}/r2\n"
    assert "field label not supported" in k.fail("get", "robots", "--field-selector",
                                                  "spec.replicas=1")
    k.ok("scale", "robot", "r1", "--replicas=3")
    assert k.ok("get", "robot", "r1", "-o", "jsonpath={.spec.replicas}") == "3"
    k.ok("patch", "robot", "r1", "--subresource=status", "--type=merge",
         "-p", '{"status":{"state":"Running"}}')
    assert k.ok("get", "robot", "r1", "-o", "jsonpath={.metadata.generation}") == "2"
    refused = k.fail("patch", "robot", "r1", "--type=strategic", "-p", '{"spec":{"replicas":1}}')
    assert "the body of the request was in an unknown format" in refused
    invalid = k.fail("create", "-f", "-", input=robot("bad", color="pink"))
    assert 'spec.color: Unsupported value: "pink": supported values: "red", "green", ' \
        '"blue"' in invalid
    assert "The colour of the paint." in k.ok("explain", "robot.spec.color")
    assert "Height in cm." in k.ok("explain", "robot.spec.size.height")
    k.ok("delete", "crd", f"robots.{GROUP}", "--timeout=30s")
    assert "the server could not find the requested resource" in k.fail("get", "robots")
    assert "NotFound" in k.fail("get", "--raw", f"/apis/{GROUP}/v1")


def owned_configmap(name: str, owner: dict[str, Any]) -> str:
    meta = owner["metadata"]
    return json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
        "name": name, "ownerReferences": [{"apiVersion": owner["apiVersion"],
                                           "kind": owner["kind"], "name": meta["name"],
                                           "uid": meta["uid"]}]}})


def test_garbage_collection_and_namespace_deletion(cluster: Cluster) -> None:
    k = Kubectl(cluster, "1.33", new_namespace(cluster, "gc"))
    k("create", "-f", "-", input=toy_crd())
    k.ok("wait", "--for", "condition=established", f"crd/robots.{GROUP}", "--timeout=10s")
    k.ok("create", "-f", "-", input=robot("owner"))
    k.ok("create", "-f", "-", input=owned_configmap("child", k.json("get", "robot", "owner")))
    k.ok("delete", "robot", "owner")
    wait_for(lambda: "NotFound" in k("get", "cm", "child").stderr, 30, interval=0.2,
             message="the ConfigMap owned by a custom resource collected")
    k.ok("create", "-f", "-", input=robot("stays"))
    k.ok("delete", "namespace", k.namespace, "--timeout=60s")
    robots = k("get", "robots", "-A", "-o", "name").stdout.split()
    assert not any(name.endswith("/stays") for name in robots)


def test_crd_and_custom_resources_survive_kill9(fresh_cluster: Cluster) -> None:
    k = Kubectl(fresh_cluster, "1.33", new_namespace(fresh_cluster, "keep"))
    k.ok("create", "-f", "-", input=toy_crd())
    k.ok("wait", "--for", "condition=established", f"crd/robots.{GROUP}", "--timeout=10s")
    k.ok("create", "-f", "-", input=robot("kept", replicas=2))
    before = k.json("get", "robot", "kept")
    watch = k.popen("get", "robots", "-w", "-o", "name")
    try:
        assert fresh_cluster.kill9() == -9
        watch.wait(timeout=30)
    finally:
        watch.kill()
        watch.wait()
    fresh_cluster.start()
    after = k.json("get", "robot", "kept")
    assert after["metadata"]["uid"] == before["metadata"]["uid"]
    assert after["spec"] == {"color": "red", "replicas": 2}
    watching = k.popen("get", "robots", "--watch-only", "-o", "name")
    try:
        reader = LineReader(watching)
        writes = iter(range(1000))

        def seen() -> bool:
            k.ok("label", "robot", "kept", f"write={next(writes)}", "--overwrite")
            return f"robot.{GROUP}/kept" in reader.drain()

        wait_for(seen, 20, interval=0.5, message="a watch event after the restart")
    finally:
        end_process(watching, grace=2)
