"""The Deployment controller: rollout arithmetic, then rolling update, status and undo."""

from __future__ import annotations

import pytest

from portico.client import PatchType
from portico.controllers import _rollout as ro
from portico.model.kinds import DEPLOYMENT, EVENT, REPLICA_SET
from tests.unit.controllers.conftest import eventually


def dep(replicas: int, surge, unavailable, strategy: str = "RollingUpdate") -> dict:
    return {"spec": {"replicas": replicas, "strategy": {
        "type": strategy, "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}}}}


@pytest.mark.parametrize(("d", "expected"), [
    pytest.param(dep(10, "25%", "25%"), (3, 2), id="percent-surge-up-unavailable-down"),
    pytest.param(dep(3, 1, 0), (1, 0), id="ints"),
    pytest.param(dep(3, 0, 0), (0, 1), id="both-zero"),
    pytest.param(dep(1, "10%", "10%"), (1, 0), id="tiny-percent"),
])
def test_fenceposts(d, expected):
    assert ro.fenceposts(d) == expected


def rs(name: str, replicas: int, available: int, created: str) -> dict:
    return {"metadata": {"name": name, "creationTimestamp": created},
            "spec": {"replicas": replicas}, "status": {"availableReplicas": available}}


def test_rolling_step():
    d = dep(4, 1, 1)
    old, new = rs("old", 4, 4, "2026-01-01T00:00:00Z"), rs("new", 0, 0, "2026-01-01T00:01:00Z")
    assert ro.new_rs_replicas(d, [old, new], new) == 1
    new = rs("new", 1, 0, "2026-01-01T00:01:00Z")
    assert ro.old_scale_down(d, [old, new], [old], new) == {"old": 3}


def test_template_hash_is_stable_and_safe():
    template = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": []}}
    value = ro.template_hash(template)
    assert value == ro.template_hash({**template, "metadata": {
        "labels": {"app": "web", "pod-template-hash": "x"}}})
    assert set(value) <= set("bcdfghjklmnpqrstvwxz2456789") and 8 <= len(value) <= 10
    assert ro.template_hash(template, 1) != value


def deployment(image: str) -> dict:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                 "strategy": {"type": "RollingUpdate",
                              "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "c", "image": image}]}}}}


async def replica_sets(c) -> dict[str, dict]:
    return {r["metadata"]["name"]: r
            for r in (await c.client.list(REPLICA_SET, namespace="default")).items}


async def roll(c, new: str, old: str) -> list[tuple[int, int]]:
    """Play kubelet until the rollout ends; return the distinct (new, old) replica steps.

    Every observation must keep maxSurge 1 / maxUnavailable 0: at most 4 pods wanted
    and at least 3 available.
    """
    seen: list[tuple[int, int]] = []

    async def step():
        got = await replica_sets(c)
        pair = (got[new]["spec"]["replicas"], got[old]["spec"]["replicas"])
        available = sum(r.get("status", {}).get("availableReplicas", 0) for r in got.values())
        assert sum(pair) <= 4 and available >= 3, (pair, available)
        if not seen or seen[-1] != pair:
            seen.append(pair)
        if pair == (3, 0):
            return True
        await c.ready_all()
        return False

    await eventually(step)
    return seen


def assert_monotonic(steps: list[tuple[int, int]]) -> None:
    """Upstream's order: scale up within surge, then down within unavailability."""
    steps = [s for s in steps if s != (0, 3)]  # undo: the reused RS, seen before scaling
    assert steps[0] == (1, 3) and steps[-1] == (3, 0)
    assert [n for n, _ in steps] == sorted(n for n, _ in steps)
    assert [o for _, o in steps] == sorted((o for _, o in steps), reverse=True)


async def test_rolling_update_status_and_undo(cluster_factory):
    c = await cluster_factory("replicaset", "deployment")
    await c.client.create(DEPLOYMENT, deployment("v1"), namespace="default")

    async def one_rs():
        got = await replica_sets(c)
        return len(got) == 1 and got

    first = next(iter((await eventually(one_rs)).values()))
    first_name = first["metadata"]["name"]
    assert first_name == f"web-{first['metadata']['labels']['pod-template-hash']}"
    assert first["spec"]["selector"]["matchLabels"] == {
        "app": "web", "pod-template-hash": first["metadata"]["labels"]["pod-template-hash"]}
    assert {k: v for k, v in first["metadata"]["annotations"].items()} == {
        ro.REVISION: "1", ro.DESIRED_REPLICAS: "3", ro.MAX_REPLICAS: "4"}

    async def settled(expected: dict[str, int]):
        await c.ready_all()
        got = await replica_sets(c)
        return {n: r["spec"]["replicas"] for n, r in got.items()} == expected and got

    await eventually(lambda: settled({first_name: 3}))

    async def complete():
        await c.ready_all()
        got = await c.client.get(DEPLOYMENT, "web", namespace="default")
        reasons = {x["type"]: x["reason"] for x in got["status"].get("conditions", [])}
        return reasons == {"Available": "MinimumReplicasAvailable",
                           "Progressing": "NewReplicaSetAvailable"} and got

    got = await eventually(complete)
    status = {k: v for k, v in got["status"].items() if k != "conditions"}
    assert status == {"observedGeneration": 1, "replicas": 3, "updatedReplicas": 3,
                      "readyReplicas": 3, "availableReplicas": 3}
    assert got["metadata"]["annotations"][ro.REVISION] == "1"
    progressing = [x for x in got["status"]["conditions"] if x["type"] == "Progressing"][0]
    assert progressing["message"] == f'ReplicaSet "{first_name}" has successfully progressed.'

    # roll to v2: surge 1, unavailable 0 -> (new, old) = (1,3) (2,2) (3,1) (3,0)
    await c.client.patch(DEPLOYMENT, "web", {"spec": {"template": {"spec": {"containers": [
        {"name": "c", "image": "v2"}]}}}}, namespace="default", patch_type=PatchType.STRATEGIC)

    async def two_rs():
        got = await replica_sets(c)
        return len(got) == 2 and got

    second_name = next(n for n in await eventually(two_rs) if n != first_name)
    steps = await roll(c, second_name, first_name)
    assert_monotonic(steps)
    got = await eventually(complete)
    assert got["metadata"]["annotations"][ro.REVISION] == "2"
    assert got["status"]["updatedReplicas"] == 3 and got["status"]["replicas"] == 3

    # kubectl rollout undo: the old template comes back; the old RS is reused, revision 3
    template = (await replica_sets(c))[first_name]["spec"]["template"]
    del template["metadata"]["labels"]["pod-template-hash"]
    await c.client.patch(DEPLOYMENT, "web", [{"op": "replace", "path": "/spec/template",
                                              "value": template}],
                         namespace="default", patch_type=PatchType.JSON)
    steps = await roll(c, first_name, second_name)
    assert_monotonic(steps)
    got = await eventually(complete)
    assert got["metadata"]["annotations"][ro.REVISION] == "3"
    assert (await replica_sets(c))[first_name]["metadata"]["annotations"][ro.REVISION] == "3"
    events = [e["message"] for e in (await c.client.list(EVENT, namespace="default")).items
              if e.get("reason") == "ScalingReplicaSet"]
    assert f"Scaled up replica set {first_name} to 3 from 0" in events
    assert f"Scaled up replica set {second_name} to 1 from 0" in events
    assert f"Scaled down replica set {first_name} to 0 from 1" in events


async def test_recreate_and_pause(cluster_factory):
    c = await cluster_factory("replicaset", "deployment")
    body = deployment("v1")
    body["spec"]["strategy"] = {"type": "Recreate"}
    await c.client.create(DEPLOYMENT, body, namespace="default")

    async def rs_replicas():
        await c.ready_all()
        return {n: r["spec"]["replicas"] for n, r in (await replica_sets(c)).items()}

    async def running():
        got = await rs_replicas()
        return list(got.values()) == [3] and got

    first = await eventually(running)
    await c.client.patch(DEPLOYMENT, "web", {"spec": {"paused": True, "template": {"spec": {
        "containers": [{"name": "c", "image": "v2"}]}}}}, namespace="default",
        patch_type=PatchType.STRATEGIC)

    async def paused():
        got = await c.client.get(DEPLOYMENT, "web", namespace="default")
        conds = {x["type"]: (x["status"], x["reason"]) for x in got["status"].get("conditions", [])}
        return conds.get("Progressing") == ("Unknown", "DeploymentPaused")

    await eventually(paused)
    assert await rs_replicas() == first
    await c.client.patch(DEPLOYMENT, "web", {"spec": {"paused": False}}, namespace="default",
                         patch_type=PatchType.MERGE)

    async def recreated():
        got = await rs_replicas()
        old = next(iter(first))
        return len(got) == 2 and got[old] == 0 and sorted(got.values()) == [0, 3]

    await eventually(recreated)
