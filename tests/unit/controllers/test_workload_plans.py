"""The pure decisions of the StatefulSet, DaemonSet, Job and CronJob controllers."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from portico.controllers import _cronjob_plan as cp
from portico.controllers import _daemonset_plan as dp
from portico.controllers import _job_plan as jp
from portico.controllers import _statefulset_plan as sp
from portico.controllers._podfailure import match_rule

NOW = datetime.datetime(2026, 3, 1, 12, 0, 30, tzinfo=datetime.UTC)
READY = [{"type": "Ready", "status": "True", "lastTransitionTime": "2026-03-01T11:00:00Z"}]


def pod(name: str, phase: str = "Running", ready: bool = True, revision: str = "r1",
        **extra: Any) -> dict[str, Any]:
    status: dict[str, Any] = {"phase": phase, "conditions": READY if ready else []}
    status.update(extra.pop("status", {}))
    meta = {"name": name, "namespace": "ns", "creationTimestamp": "2026-03-01T10:00:00Z",
            "labels": {sp.REVISION_LABEL: revision}, **extra.pop("metadata", {})}
    return {"metadata": meta, "spec": extra.pop("spec", {}), "status": status}


# --- StatefulSet --------------------------------------------------------------------------
def sts(replicas: int, policy: str = "OrderedReady", partition: int = 0,
        strategy: str = "RollingUpdate") -> dict[str, Any]:
    update: dict[str, Any] = {"type": strategy}
    if strategy == "RollingUpdate":
        update["rollingUpdate"] = {"partition": partition}
    return {"metadata": {"name": "web"}, "spec": {"replicas": replicas,
                                                   "podManagementPolicy": policy,
                                                   "updateStrategy": update}}


def sts_plan(obj: dict[str, Any], pods: dict[int, dict[str, Any]],
             update: str = "r1") -> tuple[list[int], list[str]]:
    result = sp.plan(sp.View(obj, pods, "r1", update, NOW))
    return result.create, [p["metadata"]["name"] for p in result.delete]


@pytest.mark.parametrize(("obj", "pods", "update", "expected"), [
    pytest.param(sts(3), {}, "r1", ([0], []), id="ordered-creates-first-only"),
    pytest.param(sts(3), {0: pod("web-0", ready=False)}, "r1", ([], []),
                 id="ordered-waits-for-ready"),
    pytest.param(sts(3), {0: pod("web-0")}, "r1", ([1], []), id="ordered-next-after-ready"),
    pytest.param(sts(3, "Parallel"), {}, "r1", ([0, 1, 2], []), id="parallel-creates-all"),
    pytest.param(sts(1), {0: pod("web-0"), 1: pod("web-1"), 2: pod("web-2")}, "r1",
                 ([], ["web-2"]), id="ordered-scale-down-highest-first"),
    pytest.param(sts(1, "Parallel"), {0: pod("web-0"), 1: pod("web-1"), 2: pod("web-2")},
                 "r1", ([], ["web-2", "web-1"]), id="parallel-scale-down-all"),
    pytest.param(sts(2), {0: pod("web-0", phase="Failed"), 1: pod("web-1")}, "r1",
                 ([], ["web-0"]), id="failed-pod-replaced"),
    pytest.param(sts(3), {i: pod(f"web-{i}") for i in range(3)}, "r2", ([], ["web-2"]),
                 id="rolling-update-highest-first"),
    pytest.param(sts(3, partition=2), {0: pod("web-0"), 1: pod("web-1"),
                                       2: pod("web-2", revision="r2")}, "r2", ([], []),
                 id="partition-stops-the-rollout"),
    pytest.param(sts(3, strategy="OnDelete"), {i: pod(f"web-{i}") for i in range(3)}, "r2",
                 ([], []), id="on-delete-waits-for-the-user"),
])
def test_statefulset_plan(obj: dict[str, Any], pods: dict[int, dict[str, Any]], update: str,
                          expected: tuple[list[int], list[str]]) -> None:
    assert sts_plan(obj, pods, update) == expected


def test_statefulset_new_pods_below_partition_keep_the_current_revision() -> None:
    view = sp.View(sts(3, partition=2), {}, "r1", "r2", NOW)
    assert [sp.revision_for(view, i) for i in range(3)] == ["r1", "r1", "r2"]


def test_statefulset_status_completes_the_rolling_update() -> None:
    pods = {i: pod(f"web-{i}", revision="r2") for i in range(2)}
    status = sp.status(sp.View(sts(2), pods, "r1", "r2", NOW), 3)
    assert (status["currentRevision"], status["currentReplicas"], status["readyReplicas"]) == (
        "r2", 2, 2)


# --- DaemonSet ----------------------------------------------------------------------------
def node(name: str, taints: list[dict[str, str]] | None = None,
         labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": labels or {}},
            "spec": {"taints": taints or []}}


def ds(**spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "agent"}, "spec": {
        "updateStrategy": {"type": "RollingUpdate",
                           "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}},
        "template": {"spec": spec}}}


def ds_pod(name: str, on: str, revision: str = "h1", **kw: Any) -> dict[str, Any]:
    return pod(name, revision=revision, spec={"nodeName": on}, **kw)


TAINTED = [{"key": "dedicated", "value": "infra", "effect": "NoSchedule"}]


def test_daemonset_runs_on_eligible_nodes_with_default_tolerations() -> None:
    nodes = [node("n1"), node("n2", TAINTED), node("n3", labels={"disk": "ssd"}),
             node("n4", [{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}])]
    assert [n["metadata"]["name"] for n in nodes if dp.should_run(ds(), n)] == ["n1", "n3", "n4"]
    picky = ds(nodeSelector={"disk": "ssd"})
    assert [n["metadata"]["name"] for n in nodes if dp.should_run(picky, n)] == ["n3"]
    tolerant = ds(tolerations=[{"key": "dedicated", "operator": "Exists"}])
    assert sum(dp.should_run(tolerant, n) for n in nodes) == 4


def test_daemonset_pod_is_pinned_by_node_affinity() -> None:
    spec = dp.pin_to_node(dp.daemon_pod_spec({"containers": []}), "n2")
    assert dp.target_node({"spec": spec}) == "n2"
    assert {t["key"] for t in spec["tolerations"]} >= {"node.kubernetes.io/not-ready",
                                                       "node.kubernetes.io/unschedulable"}


def ds_plan(pods: list[dict[str, Any]], obj: dict[str, Any] | None = None,
            update: str = "h1") -> tuple[list[str], list[str]]:
    view = dp.View(obj or ds(), [node("n1"), node("n2"), node("n3", TAINTED)], pods, update,
                   NOW)
    result = dp.plan(view)
    return sorted(result.create), sorted(p["metadata"]["name"] for p in result.delete)


def test_daemonset_plan_creates_missing_and_removes_strays() -> None:
    assert ds_plan([ds_pod("a", "n1"), ds_pod("b", "n1"), ds_pod("c", "n3")]) == (
        ["n2"], ["b", "c"])


def test_daemonset_rolling_update_respects_max_unavailable() -> None:
    pods = [ds_pod("a", "n1"), ds_pod("b", "n2")]
    assert ds_plan(pods, update="h2") == ([], ["a"])
    pods = [ds_pod("a", "n1"), ds_pod("b", "n2", ready=False)]
    assert ds_plan(pods, update="h2") == ([], ["b"])


def test_daemonset_surge_creates_beside_the_old_pod() -> None:
    surge = ds()
    surge["spec"]["updateStrategy"]["rollingUpdate"] = {"maxUnavailable": 0, "maxSurge": 1}
    pods = [ds_pod("a", "n1"), ds_pod("b", "n2")]
    assert ds_plan(pods, surge, "h2") == (["n1"], [])
    pods.append(ds_pod("a2", "n1", revision="h2"))
    assert ds_plan(pods, surge, "h2") == ([], ["a"])


# --- Job ----------------------------------------------------------------------------------
def job(**spec: Any) -> dict[str, Any]:
    base = {"parallelism": 1, "completions": 1, "backoffLimit": 6,
            "template": {"spec": {"restartPolicy": "Never"}}}
    return {"metadata": {"name": "j", "namespace": "ns"}, "spec": {**base, **spec},
            "status": {"startTime": "2026-03-01T12:00:00Z"}}


def failed_pod(name: str, code: int = 1, finished: str = "2026-03-01T12:00:25Z",
               index: int | None = None) -> dict[str, Any]:
    terminated = {"exitCode": code, "finishedAt": finished}
    extra: dict[str, Any] = {}
    if index is not None:
        extra["metadata"] = {"annotations": {jp.INDEX_ANNOTATION: str(index)}}
    return pod(name, phase="Failed", ready=False, status={"containerStatuses": [
        {"name": "main", "state": {"terminated": terminated}}]}, **extra)


def job_plan(obj: dict[str, Any], pods: list[dict[str, Any]]) -> jp.Plan:
    view = jp.View(obj, pods, NOW)
    return jp.plan(view, jp.count(view))


def test_job_creates_up_to_parallelism() -> None:
    assert job_plan(job(parallelism=3, completions=5), [pod("a")]).create == [None, None]
    assert job_plan(job(parallelism=3, completions=None), []).create == [None] * 3


def test_job_backs_off_after_a_failure() -> None:
    result = job_plan(job(), [failed_pod("a")])
    assert result.create == [] and result.recheck_after == pytest.approx(5.0)
    later = jp.plan(jp.View(job(), [failed_pod("a")], NOW + datetime.timedelta(seconds=6)),
                    jp.count(jp.View(job(), [failed_pod("a")], NOW)))
    assert later.create == [None]


def test_job_fails_past_the_backoff_limit_in_two_steps() -> None:
    result = job_plan(job(backoffLimit=0), [failed_pod("a")])
    assert result.finish == ("Failed", *jp.BACKOFF_EXCEEDED)
    result = job_plan(job(backoffLimit=0, parallelism=2, completions=2),
                      [failed_pod("a"), pod("b")])
    assert result.finish == ("FailureTarget", *jp.BACKOFF_EXCEEDED)
    assert [p["metadata"]["name"] for p in result.delete] == ["b"]


def test_job_completes_and_misses_its_deadline() -> None:
    assert job_plan(job(), [pod("a", phase="Succeeded")]).finish == (
        "Complete", *jp.COMPLETIONS_REACHED)
    late = job(activeDeadlineSeconds=30)
    assert job_plan(late, [pod("a")]).finish == ("FailureTarget", *jp.DEADLINE_EXCEEDED)


def test_indexed_job_runs_the_lowest_pending_indexes() -> None:
    done = pod("a", phase="Succeeded", metadata={"annotations": {jp.INDEX_ANNOTATION: "0"}})
    running = pod("b", metadata={"annotations": {jp.INDEX_ANNOTATION: "1"}})
    obj = job(completionMode="Indexed", completions=5, parallelism=3)
    assert job_plan(obj, [done, running]).create == [2, 3]
    assert jp.format_indexes({0, 1, 2, 4, 6, 7}) == "0-2,4,6-7"


def test_pod_failure_policy_fail_job_and_ignore() -> None:
    policy = {"rules": [{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]},
                        {"action": "FailJob", "onExitCodes": {"operator": "In",
                                                              "values": [42]}}]}
    hit = match_rule(policy, failed_pod("p", code=42))
    assert hit is not None and (hit.action, hit.message) == (
        "FailJob", "Container main for pod ns/p failed with exit code 42 matching FailJob rule "
        "at index 1")
    assert match_rule(policy, failed_pod("q", code=1)) is None
    result = job_plan(job(podFailurePolicy=policy), [failed_pod("p", code=42)])
    assert result.finish is not None and result.finish[:2] == ("Failed", "PodFailurePolicy")


# --- CronJob ------------------------------------------------------------------------------
def cronjob(schedule: str, last: str | None = None, **spec: Any) -> dict[str, Any]:
    status = {"lastScheduleTime": last} if last else {}
    return {"metadata": {"name": "cj", "namespace": "ns",
                         "creationTimestamp": "2026-03-01T09:30:00Z", "uid": "u"},
            "spec": {"schedule": schedule, **spec}, "status": status}


def at(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text).replace(tzinfo=datetime.UTC)


@pytest.mark.parametrize(("obj", "now", "scheduled", "next_time"), [
    pytest.param(cronjob("@hourly"), "2026-03-01T12:00:30", "2026-03-01T12:00:00",
                 "2026-03-01T13:00:00", id="due"),
    pytest.param(cronjob("@hourly", "2026-03-01T12:00:00Z"), "2026-03-01T12:30:00", None,
                 "2026-03-01T13:00:00", id="already-started"),
    pytest.param(cronjob("*/15 * * * *"), "2026-03-01T09:50:00", "2026-03-01T09:45:00",
                 "2026-03-01T10:00:00", id="first-after-creation"),
    pytest.param(cronjob("0 9 * * *", timeZone="Europe/Berlin"), "2026-03-02T08:00:10",
                 "2026-03-02T08:00:00", "2026-03-03T08:00:00", id="time-zone"),
])
def test_cronjob_due(obj: dict[str, Any], now: str, scheduled: str | None,
                     next_time: str) -> None:
    due = cp.due(obj, at(now))
    assert due.scheduled == (at(scheduled) if scheduled else None)
    assert due.next_time == at(next_time)


def test_cronjob_starting_deadline_and_job_name() -> None:
    obj = cronjob("@hourly", startingDeadlineSeconds=60)
    assert cp.too_late(obj, at("2026-03-01T12:00:00"), at("2026-03-01T12:01:01"))
    assert not cp.too_late(obj, at("2026-03-01T12:00:00"), at("2026-03-01T12:00:59"))
    body = cp.job_from_template(obj, at("2026-03-01T12:00:00"))
    assert body["metadata"]["name"] == "cj-29539440"
    assert body["metadata"]["annotations"] == {cp.SCHEDULED_TIMESTAMP: "2026-03-01T12:00:00Z"}


# --- the pods the controllers create ------------------------------------------------------
OWNER_META = {"name": "web", "namespace": "ns", "uid": "u"}


def test_statefulset_pod_has_identity_and_claims() -> None:
    from portico.controllers._statefulset import new_pod as sts_pod

    owner = {"metadata": OWNER_META, "spec": {
        "serviceName": "svc", "volumeClaimTemplates": [{"metadata": {"name": "data"}}]}}
    template = {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c"}], "volumes": [{"name": "data"}]}}
    body = sts_pod(owner, template, 2, "web-abc")
    assert body["metadata"]["name"] == "web-2"
    assert body["metadata"]["labels"] == {
        "app": "web", sp.REVISION_LABEL: "web-abc", sp.POD_NAME_LABEL: "web-2",
        sp.POD_INDEX_LABEL: "2"}
    assert (body["spec"]["hostname"], body["spec"]["subdomain"]) == ("web-2", "svc")
    assert body["spec"]["volumes"] == [
        {"name": "data", "persistentVolumeClaim": {"claimName": "data-web-2"}}]
    assert body["metadata"]["ownerReferences"][0]["kind"] == "StatefulSet"


def test_indexed_job_pod_gets_its_index() -> None:
    from portico.controllers._job import new_pod as job_pod

    owner = {"metadata": OWNER_META, "spec": {"template": {"spec": {
        "containers": [{"name": "c", "env": [{"name": "A", "value": "1"}]}]}}}}
    body = job_pod(owner, 4)
    assert body["metadata"]["generateName"] == "web-4-"
    assert body["metadata"]["annotations"] == {jp.INDEX_ANNOTATION: "4"}
    assert body["spec"]["hostname"] == "web-4"
    assert body["spec"]["containers"][0]["env"][-1] == {
        "name": "JOB_COMPLETION_INDEX", "valueFrom": {"fieldRef": {
            "apiVersion": "v1",
            "fieldPath": "metadata.annotations['batch.kubernetes.io/job-completion-index']"}}}
    assert "hostname" not in job_pod(owner, None)["spec"]


def test_job_replacement_policy_failed_waits_for_terminating_pods() -> None:
    going = pod("a", metadata={"deletionTimestamp": "2026-03-01T12:00:00Z"})
    assert job_plan(job(), [going]).create == [None]
    assert job_plan(job(podReplacementPolicy="Failed"), [going]).create == []


@pytest.mark.parametrize(("policy", "running", "action"), [
    pytest.param("Allow", 1, cp.Start.RUN, id="allow"),
    pytest.param("Forbid", 1, cp.Start.SKIP, id="forbid-running"),
    pytest.param("Forbid", 0, cp.Start.RUN, id="forbid-idle"),
    pytest.param("Replace", 2, cp.Start.REPLACE, id="replace-running"),
    pytest.param("Replace", 0, cp.Start.RUN, id="replace-idle"),
])
def test_cronjob_concurrency_policy(policy: str, running: int, action: cp.Start) -> None:
    assert cp.start_action(cronjob("@hourly", concurrencyPolicy=policy), running) == action


def test_cronjob_history_keeps_the_newest_finished_jobs() -> None:
    def done(name: str, kind: str, start: str) -> dict[str, Any]:
        return {"metadata": {"name": name}, "status": {
            "startTime": start, "conditions": [{"type": kind, "status": "True"}]}}

    jobs = [done("a", "Complete", "2026-03-01T10:00:00Z"),
            done("b", "Complete", "2026-03-01T11:00:00Z"),
            done("c", "Failed", "2026-03-01T09:00:00Z"),
            done("d", "Complete", "2026-03-01T12:00:00Z")]
    assert [j["metadata"]["name"] for j in cp.over_history(jobs, "Complete", 2)] == ["a"]
    assert cp.over_history(jobs, "Failed", 1) == []
    assert [j["metadata"]["name"] for j in cp.over_history(jobs, "Failed", 0)] == ["c"]


@pytest.mark.parametrize(("when_deleted", "owned"), [
    pytest.param("Retain", False, id="retain"),
    pytest.param("Delete", True, id="delete-with-the-set"),
])
def test_statefulset_claim_follows_the_retention_policy(when_deleted: str, owned: bool) -> None:
    from portico.controllers._statefulset import claim_body

    owner = {"metadata": OWNER_META, "spec": {
        "selector": {"matchLabels": {"app": "web"}},
        "persistentVolumeClaimRetentionPolicy": {"whenDeleted": when_deleted}}}
    claim = {"metadata": {"name": "data", "labels": {"tier": "db"}},
             "spec": {"accessModes": ["ReadWriteOnce"],
                      "resources": {"requests": {"storage": "1Gi"}}}}
    body = claim_body(owner, claim, 1)
    assert body["metadata"]["name"] == "data-web-1"
    assert body["metadata"]["labels"] == {"tier": "db", "app": "web"}
    assert body["spec"] == claim["spec"]
    refs = body["metadata"].get("ownerReferences")
    assert bool(refs) == owned
    if refs:
        assert (refs[0]["kind"], refs[0]["controller"]) == ("StatefulSet", False)
