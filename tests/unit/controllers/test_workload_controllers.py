"""StatefulSet (with its claims provisioned and bound), DaemonSet, Job,
PodDisruptionBudget and HorizontalPodAutoscaler controllers against a real API
server, the tests playing kubelet (and the agents' metrics)."""

from __future__ import annotations

from portico.client import PatchType
from portico.model.kinds import (
    CONTROLLER_REVISION,
    DAEMON_SET,
    DEPLOYMENT,
    HORIZONTAL_POD_AUTOSCALER,
    JOB,
    PERSISTENT_VOLUME_CLAIM,
    POD,
    POD_DISRUPTION_BUDGET,
    POD_METRICS,
    STATEFUL_SET,
    STORAGE_CLASS,
)
from tests.unit.controllers.conftest import eventually

LABELS = {"app": "web"}
TEMPLATE = {"metadata": {"labels": LABELS},
            "spec": {"containers": [{"name": "c", "image": "pause"}]}}


async def test_statefulset_pods_claims_volumes_and_history(cluster_factory):
    c = await cluster_factory("statefulset", "persistentvolume-binder")
    await c.add_node("node-1")
    await c.client.create(STORAGE_CLASS, {
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": "local"}, "provisioner": "rancher.io/local-path",
        "volumeBindingMode": "Immediate", "reclaimPolicy": "Delete"})
    await c.client.create(STATEFUL_SET, {
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "web"},
        "spec": {"replicas": 2, "serviceName": "web", "selector": {"matchLabels": LABELS},
                 "template": TEMPLATE, "volumeClaimTemplates": [{
                     "metadata": {"name": "data"},
                     "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "local",
                              "resources": {"requests": {"storage": "1Mi"}}}}]}},
        namespace="default")

    async def both_running():
        await c.ready_all()
        names = sorted(p["metadata"]["name"] for p in await c.pods())
        return names == ["web-0", "web-1"]

    await eventually(both_running, timeout=30.0)

    async def claims_bound():
        claims = (await c.client.list(PERSISTENT_VOLUME_CLAIM, namespace="default")).items
        phases = {x["metadata"]["name"]: (x.get("status") or {}).get("phase") for x in claims}
        return phases == {"data-web-0": "Bound", "data-web-1": "Bound"}

    await eventually(claims_bound, timeout=30.0)
    revisions = (await c.client.list(CONTROLLER_REVISION, namespace="default")).items
    assert [r["revision"] for r in revisions] == [1]

    async def status():
        await c.ready_all()  # web-1 may have come after the last round readied the pods
        got = (await c.client.get(STATEFUL_SET, "web", namespace="default")).get("status") or {}
        return got.get("readyReplicas") == 2 and got.get("currentRevision") == \
            revisions[0]["metadata"]["name"]

    await eventually(status, timeout=30.0)


async def test_daemonset_runs_one_pod_per_node(cluster_factory):
    c = await cluster_factory("daemonset")
    for name in ("node-1", "node-2"):
        await c.add_node(name)
    await c.client.create(DAEMON_SET, {
        "apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent"},
        "spec": {"selector": {"matchLabels": LABELS}, "template": TEMPLATE}},
        namespace="default")

    async def spread():
        await c.ready_all()
        pods = await c.pods()
        affinity = [p["spec"]["affinity"]["nodeAffinity"] for p in pods]
        status = (await c.client.get(DAEMON_SET, "agent", namespace="default"))["status"]
        return len(affinity) == 2 and status.get("numberReady") == 2

    await eventually(spread, timeout=30.0)


async def test_job_completes_when_its_pod_succeeds(cluster_factory):
    c = await cluster_factory("job")
    await c.client.create(JOB, {
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "once"},
        "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [
            {"name": "c", "image": "pause"}]}}}}, namespace="default")

    async def one_pod():
        pods = await c.pods()
        return len(pods) == 1 and pods[0]

    pod = await eventually(one_pod, timeout=30.0)
    await c.client.patch(POD.status, pod["metadata"]["name"], {"status": {
        "phase": "Succeeded", "containerStatuses": [{
            "name": "c", "ready": False, "restartCount": 0, "image": "pause", "imageID": "",
            "state": {"terminated": {"exitCode": 0, "reason": "Completed",
                                     "finishedAt": "2026-01-01T00:00:01Z"}}}]}},
        namespace="default", patch_type=PatchType.STRATEGIC)

    async def complete():
        got = (await c.client.get(JOB, "once", namespace="default")).get("status") or {}
        types = {x["type"] for x in got.get("conditions") or [] if x["status"] == "True"}
        return got.get("succeeded") == 1 and "Complete" in types

    await eventually(complete, timeout=30.0)


async def test_disruption_budget_counts_healthy_pods(cluster_factory):
    c = await cluster_factory("disruption")
    for name in ("a", "b"):
        await c.client.create(POD, {"apiVersion": "v1", "kind": "Pod",
                                    "metadata": {"name": name, "labels": LABELS},
                                    "spec": TEMPLATE["spec"]}, namespace="default")
    await c.ready_all()
    await c.client.create(POD_DISRUPTION_BUDGET, {
        "apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "web"},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": LABELS}}}, namespace="default")

    async def allowed():
        got = await c.client.get(POD_DISRUPTION_BUDGET, "web", namespace="default")
        status = got.get("status") or {}
        return (status.get("currentHealthy"), status.get("disruptionsAllowed")) == (2, 1)

    await eventually(allowed, timeout=30.0)


async def test_autoscaler_scales_the_target_on_cpu_utilization(cluster_factory):
    c = await cluster_factory("horizontalpodautoscaling")
    await c.client.create(DEPLOYMENT, {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": 1, "selector": {"matchLabels": LABELS}, "template": TEMPLATE}},
        namespace="default")
    pod = await c.client.create(POD, {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-1", "labels": LABELS},
        "spec": {"containers": [{"name": "c", "image": "pause",
                                 "resources": {"requests": {"cpu": "100m"}}}]}},
        namespace="default")
    await c.ready_all()
    await c.client.apply(POD_METRICS, {
        "apiVersion": "metrics.k8s.io/v1beta1", "kind": "PodMetrics",
        "metadata": {"name": "web-1", "namespace": "default", "ownerReferences": [{
            "apiVersion": "v1", "kind": "Pod", "name": "web-1",
            "uid": pod["metadata"]["uid"]}]},
        "timestamp": "2026-01-01T00:00:00Z", "window": "10s",
        "containers": [{"name": "c", "usage": {"cpu": "200m", "memory": "1Mi"}}]})
    await c.client.create(HORIZONTAL_POD_AUTOSCALER, {
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                                    "name": "web"},
                 "minReplicas": 1, "maxReplicas": 3, "metrics": [{
                     "type": "Resource", "resource": {"name": "cpu", "target": {
                         "type": "Utilization", "averageUtilization": 50}}}]}},
        namespace="default")

    async def scaled():
        got = await c.client.get(DEPLOYMENT, "web", namespace="default")
        return got["spec"]["replicas"] == 3

    await eventually(scaled, timeout=30.0)
    hpa = await c.client.get(HORIZONTAL_POD_AUTOSCALER, "web", namespace="default")
    assert (hpa["status"]["desiredReplicas"],
            hpa["status"]["currentMetrics"][0]["resource"]["current"]["averageUtilization"]) \
        == (3, 200)
