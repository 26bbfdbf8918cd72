"""Issue 16, point 7 end to end: `kubectl top`, autoscaling, disruption budgets, drain.

One `portico up --nodes 1` with the agents writing metrics every second and the
autoscaler syncing every second serves the module; tests run with kubectl 1.32 and
1.33 in fresh namespaces.  A busy pod is a busybox shell spinning in a loop; an idle
one sleeps.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator

import pytest
from cluster_support import dump, pod
from e2e_support import parse_table

from portico.testing.sandbox import Cluster, wait_for
from tests.conftest import Kubectl

SPIN = ["sh", "-c", "while :; do :; done"]


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with Cluster(nodes=1, env={"PORTICO_METRICS_SECONDS": "1",
                               "PORTICO_HPA_SYNC_SECONDS": "1"}) as running:
        yield running


def busybox_pod(name: str, command: list[str]) -> str:
    return dump(pod(name, {"terminationGracePeriodSeconds": 0, "containers": [
        {"name": "main", "image": "busybox", "command": command}]}, labels={"app": name}))


def millicores(cell: str) -> int:
    return int(cell.removesuffix("m"))


def test_kubectl_top_shows_a_busy_pod(kubectl: Kubectl) -> None:
    k = kubectl
    k.ok("apply", "-f", "-", input=busybox_pod("busy", SPIN))
    k.ok("apply", "-f", "-", input=busybox_pod("idle", ["sleep", "3600"]))
    try:
        def top() -> dict[str, dict[str, str]] | None:
            result = k("top", "pods")
            if result.returncode != 0:
                return None
            header, rows = parse_table(result.stdout)
            found = {row["NAME"]: row for row in rows}
            return found if {"busy", "idle"} <= set(found) and header[:3] == [
                "NAME", "CPU(cores)", "MEMORY(bytes)"] else None
        rows = wait_for(top, 60, interval=0.5, message="kubectl top pods lists both pods")
        wait_for(lambda: millicores((top() or rows)["busy"]["CPU(cores)"]) >= 200, 30,
                 interval=0.5, message="the busy pod uses CPU")
        assert millicores(rows["idle"]["CPU(cores)"]) < 50
        assert rows["busy"]["MEMORY(bytes)"].endswith("Mi")
        containers = k.ok("top", "pod", "busy", "--containers")
        assert "main" in containers
        selected = k.ok("top", "pods", "-l", "app=idle")
        assert "idle" in selected and "busy" not in selected
    finally:
        k("delete", "pod", "busy", "--wait=false")

    nodes = wait_for(lambda: k("top", "nodes").stdout or None, 30, interval=0.5,
                     message="kubectl top nodes")
    header, rows = parse_table(nodes)
    assert header == ["NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)"]
    assert rows[0]["NAME"] == "node-1"
    wait_for(lambda: k("get", "pods.metrics.k8s.io", "busy").returncode == 1, 30,
             interval=0.5, message="the deleted pod's PodMetrics collected with it")


def test_cordon_and_uncordon(kubectl: Kubectl) -> None:
    k = kubectl
    assert "node/node-1 cordoned" in k.ok("cordon", "node-1")
    try:
        assert k.json("get", "node", "node-1")["spec"]["unschedulable"] is True
        k.ok("apply", "-f", "-", input=busybox_pod("waits", ["sleep", "3600"]))

        def unschedulable() -> str | None:
            conditions = k.json("get", "pod", "waits").get("status", {}).get("conditions") or []
            return next((c.get("message") for c in conditions
                         if c["type"] == "PodScheduled" and c["status"] == "False"), None)
        assert "node(s) were unschedulable" in wait_for(unschedulable, 30, interval=0.2,
                                                        message="pod unschedulable")
    finally:
        assert "node/node-1 uncordoned" in k.ok("uncordon", "node-1")
    wait_for(lambda: k.json("get", "pod", "waits")["spec"].get("nodeName") == "node-1", 30,
             interval=0.2, message="scheduled after uncordon")


def web_deployment(replicas: int, name: str = "web", command: list[str] | None = None,
                   cpu: str = "") -> str:
    labels = {"app": name}
    container: dict[str, object] = {"name": "main", "image": "busybox",
                                    "command": command or ["sleep", "3600"]}
    if cpu:
        container["resources"] = {"requests": {"cpu": cpu}}
    return dump({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
                 "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                          "template": {"metadata": {"labels": labels}, "spec": {
                              "terminationGracePeriodSeconds": 0,
                              "containers": [container]}}}})


def budget(min_available: int | str) -> str:
    return dump({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                 "metadata": {"name": "web"},
                 "spec": {"minAvailable": min_available,
                          "selector": {"matchLabels": {"app": "web"}}}})


def test_drain_is_blocked_by_a_disruption_budget(kubectl: Kubectl) -> None:
    k = kubectl
    k.ok("apply", "-f", "-", input=web_deployment(2))
    k.ok("apply", "-f", "-", input=budget(2))

    def status() -> dict[str, int] | None:
        found = k.json("get", "pdb", "web").get("status") or {}
        return found if found.get("currentHealthy") == 2 else None
    found = wait_for(status, 60, interval=0.3, message="two healthy pods in the budget")
    assert (found["desiredHealthy"], found["disruptionsAllowed"], found["expectedPods"]) == \
        (2, 0, 2)
    _, rows = parse_table(k.ok("get", "pdb"))
    assert rows == [{"NAME": "web", "MIN AVAILABLE": "2", "MAX UNAVAILABLE": "N/A",
                     "ALLOWED DISRUPTIONS": "0", "AGE": rows[0]["AGE"]}]
    try:
        drain = k("drain", "node-1", "--pod-selector=app=web", "--timeout=6s")
        assert drain.returncode == 1
        assert "Cannot evict pod as it would violate the pod's disruption budget." \
            in drain.stderr
        assert len(k.json("get", "pods", "-l", "app=web")["items"]) == 2
        k.ok("apply", "-f", "-", input=budget("50%"))
        wait_for(lambda: (k.json("get", "pdb", "web").get("status") or {}).get(
            "disruptionsAllowed") == 1, 30, interval=0.3, message="one disruption allowed")
        drained = k("drain", "node-1", "--pod-selector=app=web", "--timeout=8s")
        assert "evicted" in drained.stdout, drained.stderr
    finally:
        k.ok("uncordon", "node-1")
    # `kubectl create poddisruptionbudget` posts protobuf (kubectl 1.33) or JSON
    k.ok("create", "poddisruptionbudget", "spare", "--selector=app=none",
         "--max-unavailable=50%")
    spec = k.json("get", "pdb", "spare")["spec"]
    assert (spec["maxUnavailable"], spec["selector"]) == ("50%", {"matchLabels": {"app": "none"}})


def autoscaler(name: str, cpu_percent: int, low: int, high: int) -> dict[str, object]:
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": name},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                                        "name": name},
                     "minReplicas": low, "maxReplicas": high,
                     "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                         "type": "Utilization", "averageUtilization": cpu_percent}}}]}}


def test_autoscaler_scales_a_busy_deployment_up(kubectl: Kubectl) -> None:
    k = kubectl
    k.ok("apply", "-f", "-", input=web_deployment(1, "load", SPIN, cpu="200m"))
    k.ok("apply", "-f", "-", input=web_deployment(1, "norequest"))
    try:
        k.ok("apply", "-f", "-", input=dump(autoscaler("load", 50, 1, 2)))
        # kubectl 1.32 posts autoscaling/v1, 1.33 autoscaling/v2: one object, both versions
        k.ok("autoscale", "deployment", "norequest", "--cpu-percent=50", "--min=1", "--max=3")
        hpa = k.json("get", "hpa", "load")
        assert hpa["apiVersion"] == "autoscaling/v2"
        assert hpa["spec"]["metrics"][0]["resource"]["target"] == {
            "type": "Utilization", "averageUtilization": 50}
        made = k.json("get", "horizontalpodautoscalers.v2.autoscaling", "norequest")["spec"]
        assert (made["minReplicas"], made["maxReplicas"], made["metrics"]) == (
            1, 3, autoscaler("norequest", 50, 1, 3)["spec"]["metrics"])
        old = k.json("get", "horizontalpodautoscalers.v1.autoscaling", "load")
        assert old["apiVersion"] == "autoscaling/v1"
        assert (old["spec"]["targetCPUUtilizationPercentage"], old["spec"]["maxReplicas"]) == (
            50, 2)
        wait_for(lambda: k.json("get", "deployment", "load")["spec"]["replicas"] == 2, 60,
                 interval=0.5, message="the autoscaler scales the busy deployment to 2")

        def row() -> dict[str, str] | None:
            _, rows = parse_table(k.ok("get", "hpa", "load"))
            return rows[0] if rows and rows[0]["REPLICAS"] == "2" else None
        shown = wait_for(row, 30, interval=0.5, message="kubectl get hpa shows 2 replicas")
        _, old_rows = parse_table(k.ok("get", "horizontalpodautoscalers.v1.autoscaling", "load"))
        assert old_rows[0]["TARGETS"].endswith("%/50%") and old_rows[0]["REPLICAS"] == "2"
        status = k.json("get", "horizontalpodautoscalers.v1.autoscaling", "load")["status"]
        assert status["currentReplicas"] == 2 and "currentCPUUtilizationPercentage" in status
        assert (shown["REFERENCE"], shown["MINPODS"], shown["MAXPODS"]) == (
            "Deployment/load", "1", "2")
        assert shown["TARGETS"].startswith("cpu: ") and shown["TARGETS"].endswith("%/50%")
        described = k.ok("describe", "hpa", "load")
        assert "SuccessfulRescale" in described and "New size: 2; reason: cpu resource " \
            "utilization (percentage of request) above target" in described
        assert "ScalingActive" in described and "ValidMetricFound" in described

        def inactive() -> dict[str, str] | None:
            conditions = k.json("get", "hpa", "norequest").get("status", {}).get(
                "conditions") or []
            return next((c for c in conditions if c["type"] == "ScalingActive"
                         and c["status"] == "False"), None)
        condition = wait_for(inactive, 30, interval=0.5, message="ScalingActive False")
        assert condition["reason"] == "FailedGetResourceMetric"
        assert condition["message"].startswith(
            "failed to get cpu utilization: missing request for cpu in container main of Pod "
            "norequest-")
    finally:
        k("delete", "deployment", "load", "--wait=false")


CLIENT_SCRIPT = r'''
import json, sys, tempfile
from kubernetes import client, config, utils, watch
api = config.new_client_from_config(config_file=sys.argv[1])
ns = sys.argv[2]
docs = """
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: NAME}
provisioner: rancher.io/local-path
reclaimPolicy: Retain
volumeBindingMode: Immediate
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: claim}
spec:
  storageClassName: NAME
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 16Mi}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: auto}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: nothing}
  maxReplicas: 3
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: budget}
spec:
  maxUnavailable: 1
  selector: {matchLabels: {app: none}}
""".replace("NAME", ns)
with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
    f.write(docs); f.flush()
    utils.create_from_yaml(api, f.name, namespace=ns)
core, storage = client.CoreV1Api(api), client.StorageV1Api(api)
scaling, policy = client.AutoscalingV2Api(api), client.PolicyV1Api(api)
out = {}
events = []
for event in watch.Watch().stream(core.list_namespaced_persistent_volume_claim, ns,
                                  timeout_seconds=20):
    events.append(event["type"])
    if event["object"].status.phase == "Bound":
        break
claim = core.read_namespaced_persistent_volume_claim("claim", ns)
out["claim"] = [claim.status.phase, claim.spec.volume_name, claim.status.capacity["storage"]]
out["claim_events"] = events
pv = core.read_persistent_volume(claim.spec.volume_name)
out["pv"] = [pv.spec.persistent_volume_reclaim_policy, pv.status.phase]
sc = storage.patch_storage_class(ns, {"metadata": {"labels": {"patched": "yes"}}})
out["sc"] = [sc.reclaim_policy, sc.volume_binding_mode, sc.metadata.labels]
hpa = scaling.patch_namespaced_horizontal_pod_autoscaler("auto", ns,
                                                         {"spec": {"maxReplicas": 4}})
out["hpa"] = [hpa.spec.min_replicas, hpa.spec.max_replicas,
              hpa.spec.metrics[0].resource.target.average_utilization]
for event in watch.Watch().stream(
        client.AutoscalingV1Api(api).list_namespaced_horizontal_pod_autoscaler, ns,
        timeout_seconds=20):
    v1 = event["object"]
    out["hpa_v1_watch"] = [event["type"], v1.api_version, v1.spec.max_replicas,
                           v1.spec.target_cpu_utilization_percentage]
    break
pdb = policy.read_namespaced_pod_disruption_budget("budget", ns)
out["pdb"] = [pdb.spec.max_unavailable, len(policy.list_namespaced_pod_disruption_budget(
    ns).items)]
core.delete_namespaced_persistent_volume_claim("claim", ns)
scaling.delete_namespaced_horizontal_pod_autoscaler("auto", ns)
policy.delete_namespaced_pod_disruption_budget("budget", ns)
storage.delete_storage_class(ns)
after = core.read_persistent_volume(claim.spec.volume_name)
out["pv_after"] = [after.spec.persistent_volume_reclaim_policy]
core.delete_persistent_volume(claim.spec.volume_name)
print(json.dumps(out))
'''


def test_python_client_drives_claims_classes_autoscalers_and_budgets(
        kubectl: Kubectl) -> None:
    k = kubectl
    if k.version != "1.33":
        pytest.skip("the Python client does not depend on the kubectl version")
    result = k.cluster.sandbox.run([sys.executable, "-c", CLIENT_SCRIPT,
                                    str(k.cluster.kubeconfig), k.namespace], timeout=120)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["claim"][0] == "Bound" and out["claim"][2] == "16Mi"
    assert out["claim_events"][0] == "ADDED"
    assert out["pv"] == ["Retain", "Bound"]
    assert out["sc"] == ["Retain", "Immediate", {"patched": "yes"}]
    assert out["hpa"] == [1, 4, 80]
    assert out["hpa_v1_watch"] == ["ADDED", "autoscaling/v1", 4, 80]
    assert out["pdb"] == [1, 1]
    assert out["pv_after"] == ["Retain"]
