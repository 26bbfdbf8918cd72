"""The ReplicaSet controller: ranking, then create/scale/adopt/release against the API."""

from __future__ import annotations

import datetime

import pytest

from portico.client import PatchType
from portico.controllers._pods import deletion_rank
from portico.controllers._replicaset import plan
from portico.model.kinds import POD, REPLICA_SET
from tests.unit.controllers.conftest import eventually

NOW = datetime.datetime(2026, 1, 1, 0, 1, tzinfo=datetime.UTC)


def rpod(name: str, node: str = "n", phase: str = "Running", ready: bool = True,
         created: str = "2026-01-01T00:00:00Z", restarts: int = 0) -> dict:
    return {"metadata": {"name": name, "namespace": "d", "uid": name, "labels": {"app": "x"},
                         "creationTimestamp": created,
                         "ownerReferences": [{"uid": "rs", "controller": True,
                                              "kind": "ReplicaSet", "name": "rs"}]},
            "spec": {"nodeName": node},
            "status": {"phase": phase, "containerStatuses": [{"restartCount": restarts}],
                       "conditions": [{"type": "Ready", "status": str(ready),
                                       "lastTransitionTime": "2026-01-01T00:00:00Z"}]}}


def test_deletion_rank_order():
    pods = [rpod("old-ready"), rpod("new-ready", created="2026-01-01T00:00:30Z"),
            rpod("unscheduled", node=""), rpod("pending", phase="Pending"),
            rpod("not-ready", ready=False), rpod("restarty", restarts=3)]
    assert [p["metadata"]["name"] for p in sorted(pods, key=deletion_rank)] == [
        "unscheduled", "pending", "not-ready", "restarty", "new-ready", "old-ready"]


RS = {"metadata": {"name": "rs", "namespace": "d", "uid": "rs", "generation": 2},
      "spec": {"replicas": 2, "minReadySeconds": 120, "selector": {"matchLabels": {"app": "x"}},
               "template": {"metadata": {"labels": {"app": "x", "tier": "web"}}}}}


@pytest.mark.parametrize(("pods", "create", "delete", "status"), [
    pytest.param([], 2, [], {"replicas": 0, "observedGeneration": 2}, id="create-all"),
    pytest.param([rpod("a"), rpod("b", ready=False), rpod("c")], 0, ["b"],
                 {"replicas": 3, "readyReplicas": 2, "observedGeneration": 2}, id="scale-down"),
])
def test_plan(pods, create, delete, status):
    result = plan(RS, pods, NOW)
    assert (result.create, [p["metadata"]["name"] for p in result.delete], result.status) == (
        create, delete, status)
    assert result.recheck_after == (60.0 if any(p["status"]["conditions"][0]["status"] == "True"
                                                for p in pods) else None)


def replicaset(name: str, replicas: int, labels: dict) -> dict:
    return {
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels},
                              "spec": {"containers": [{"name": "c", "image": "pause"}]}}}}


async def test_create_scale_adopt_release(cluster_factory):
    c = await cluster_factory("replicaset")
    rs = await c.client.create(REPLICA_SET, replicaset("web", 3, {"app": "web"}),
                               namespace="default")

    async def owned(count):
        pods = [p for p in await c.pods() if not p["metadata"].get("deletionTimestamp")]
        return len(pods) == count and pods

    pods = await eventually(lambda: owned(3))
    for pod in pods:
        assert pod["metadata"]["name"].startswith("web-") and len(pod["metadata"]["name"]) == 9
        assert pod["metadata"]["labels"] == {"app": "web"}
        assert pod["metadata"]["ownerReferences"] == [{
            "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web",
            "uid": rs["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}]
    await c.ready_all()

    async def status():
        got = (await c.client.get(REPLICA_SET, "web", namespace="default"))["status"]
        return got == {"replicas": 3, "fullyLabeledReplicas": 3, "readyReplicas": 3,
                       "availableReplicas": 3, "observedGeneration": 1} and got

    await eventually(status)
    # release: a pod relabelled out of the selector loses its ownerReference and is replaced
    victim = pods[0]["metadata"]["name"]
    await c.client.patch(POD, victim, {"metadata": {"labels": {"app": "other"}}},
                         namespace="default", patch_type=PatchType.MERGE)

    async def released():
        got = await c.client.get(POD, victim, namespace="default")
        return not got["metadata"].get("ownerReferences")

    await eventually(released)
    await eventually(lambda: owned(4))
    # adoption: labelled back, the orphan is adopted and one pod (a not-ready one) goes
    await c.client.patch(POD, victim, {"metadata": {"labels": {"app": "web"}}},
                         namespace="default", patch_type=PatchType.MERGE)
    remaining = await eventually(lambda: owned(3))
    assert victim in {p["metadata"]["name"] for p in remaining}
    assert all(p["metadata"]["ownerReferences"][0]["uid"] == rs["metadata"]["uid"]
               for p in remaining)
    # scale down to 1
    await c.client.patch(REPLICA_SET, "web", {"spec": {"replicas": 1}}, namespace="default",
                         patch_type=PatchType.MERGE)
    assert len(await eventually(lambda: owned(1))) == 1
