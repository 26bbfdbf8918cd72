"""kopf, the Python operator framework, runs unchanged against `portico up`.

The operator (`operators/kopf_robots.py`) watches a CRD of the test's own: its
create handler makes a ConfigMap per custom resource and writes status (through
`/status`), its delete handler runs behind kopf's finalizer (added and removed
with JSON patches opened by a `test` of the resourceVersion), and kopf's peering
keeps a `KopfPeering` object alive with merge patches.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from e2e_support import LineReader

from portico.testing.sandbox import Cluster, end_process, wait_for
from tests.conftest import Kubectl, new_namespace

pytest.importorskip("kopf")

OPERATOR = Path(__file__).resolve().parent / "operators" / "kopf_robots.py"
GROUP = "toys.example.com"
FINALIZER = "kopf.zalando.org/KopfFinalizerMarker"


def crd(group: str, kind: str, plural: str, scope: str, status_subresource: bool) -> str:
    schema = {"type": "object", "properties": {
        "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
        "x-kubernetes-preserve-unknown-fields": True}
    version: dict[str, Any] = {"name": "v1", "served": True, "storage": True,
                               "schema": {"openAPIV3Schema": schema}}
    if status_subresource:
        version["subresources"] = {"status": {}}
    return json.dumps({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {"group": group, "scope": scope, "versions": [version],
                 "names": {"plural": plural, "kind": kind}}})


def install_crds(k: Kubectl) -> None:
    for body in (crd(GROUP, "Robot", "robots", "Namespaced", True),
                 crd("kopf.dev", "KopfPeering", "kopfpeerings", "Namespaced", False),
                 crd("kopf.dev", "ClusterKopfPeering", "clusterkopfpeerings", "Cluster", False)):
        k("apply", "--server-side", "-f", "-", input=body)
    for name in (f"robots.{GROUP}", "kopfpeerings.kopf.dev", "clusterkopfpeerings.kopf.dev"):
        k.ok("wait", "--for", "condition=established", f"crd/{name}", "--timeout=10s")


def test_kopf_operator_end_to_end(cluster: Cluster) -> None:
    k = Kubectl(cluster, "1.33", new_namespace(cluster, "kopf"))
    install_crds(k)
    k.ok("create", "-f", "-", input=json.dumps({
        "apiVersion": "kopf.dev/v1", "kind": "KopfPeering", "metadata": {"name": "default"}}))
    operator = cluster.sandbox.popen(
        [sys.executable, "-m", "kopf", "run", "--verbose", "--namespace", k.namespace,
         "--peering", "default", str(OPERATOR)],
        env=cluster.kube_env(), stderr=-2)  # stderr into stdout
    try:
        reader = LineReader(operator)
        wait_for(lambda: k.json("get", "kopfpeering", "default").get("status"), 30,
                 interval=0.2, message="kopf's peering keep-alive in the KopfPeering status")
        k.ok("create", "-f", "-", input=json.dumps({
            "apiVersion": f"{GROUP}/v1", "kind": "Robot", "metadata": {"name": "r2d2"},
            "spec": {"color": "white"}}))
        wait_for(lambda: (k.json("get", "robot", "r2d2").get("status") or {}).get("build"),
                 30, interval=0.2, message="the create handler's result in the status")
        robot = k.json("get", "robot", "r2d2")
        assert robot["status"]["build"] == {"configmap": "r2d2-parts"}
        assert FINALIZER in robot["metadata"]["finalizers"]
        parts = k.json("get", "configmap", "r2d2-parts")
        assert parts["data"] == {"color": "white"}
        assert parts["metadata"]["ownerReferences"][0]["uid"] == robot["metadata"]["uid"]
        k.ok("delete", "robot", "r2d2", "--timeout=30s")
        deletions = k.json("get", "configmap", "robot-deletions")
        assert deletions["data"] == {"r2d2": "scrapped"}
        wait_for(lambda: "NotFound" in k("get", "configmap", "r2d2-parts").stderr, 30,
                 interval=0.2, message="the robot's ConfigMap garbage-collected")
        reader.wait_line(r"Handler 'scrap' succeeded", timeout=10)
        assert not [ln for ln in reader.drain() if "Traceback" in ln]
    finally:
        end_process(operator, grace=5)
