"""Issue 16 end to end: StatefulSet, DaemonSet, Job, CronJob and ReplicationController.

One `portico up --nodes 3` serves the module; each test gets a fresh namespace and
drives the real kubectl (1.33; the rollout, scale and create tests also 1.32). DNS names of
StatefulSet pods are resolved from a pod (dnspython through the test's own
interpreter). The Job retry test counts on the controller's 10 s failure backoff.
A CronJob scheduled every minute is created with the cluster, so by the last test
(which waits for it) it has fired while the others ran.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cluster_support import (
    HTTP_PORT,
    VENV_PYTHON,
    agnhost_container,
    dump,
    host_dir,
    pods,
    run_pod,
    running_cluster,
    service,
    wait_ready,
)
from e2e_support import parse_table

from portico.testing.sandbox import Cluster, wait_for
from tests.conftest import Kubectl, new_namespace

PROBE = {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 1}
DNSPYTHON = ("import sys, dns.resolver\n"
             "r = dns.resolver.Resolver()\n"
             "for kind, name in zip(sys.argv[1::2], sys.argv[2::2]):\n"
             "    for rr in sorted(r.resolve(name, kind), key=str):\n"
             "        print(kind, name, rr.to_text())")


MINUTELY_NS = "cron-e2e"


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    for running in running_cluster():
        k = Kubectl(running, "1.33", MINUTELY_NS)
        running.kubectl("create", "namespace", MINUTELY_NS, check=True)
        cron = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "minutely"},
                "spec": {"schedule": "* * * * *",
                         "jobTemplate": {"spec": job("x", "echo fired")["spec"]}}}
        k.ok("apply", "-f", "-", input=dump(cron))
        yield running


@pytest.fixture
def flags() -> Iterator[Path]:
    yield from host_dir()


def template(labels: dict[str, str], **spec: Any) -> dict[str, Any]:
    spec.setdefault("containers", [agnhost_container(readinessProbe=PROBE)])
    spec.setdefault("terminationGracePeriodSeconds", 0)
    return {"metadata": {"labels": labels}, "spec": spec}


def statefulset(name: str, replicas: int, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name},
            "spec": {"serviceName": name, "replicas": replicas,
                     "selector": {"matchLabels": {"app": name}},
                     "template": template({"app": name}), **spec}}


def job(name: str, script: str, **spec: Any) -> dict[str, Any]:
    pod_spec = {"restartPolicy": "Never", "terminationGracePeriodSeconds": 0,
                "containers": [{"name": "main", "image": "busybox",
                                "command": ["sh", "-c", script]}]}
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
            "spec": {"template": {"spec": pod_spec}, **spec}}


def dns_lookup(k: Kubectl, name: str, *queries: str) -> list[str]:
    run = run_pod(k, name, "", command=[VENV_PYTHON, "-c", DNSPYTHON, *queries])
    assert run.phase == "Succeeded", run.logs
    return run.logs.splitlines()


def revision_label(k: Kubectl, pod: str) -> str:
    return k.ok("get", "pod", pod, "-o", "jsonpath={.metadata.labels.controller-revision-hash}")


def test_statefulset_names_dns_and_ordered_scaling(kubectl133: Kubectl) -> None:
    k = kubectl133
    k.ok("apply", "-f", "-", input=dump(statefulset("web", 2),
                                         service("web", [HTTP_PORT], clusterIP="None")))
    views = {p.name: p for p in wait_ready(k, "app=web", 2)}
    assert sorted(views) == ["web-0", "web-1"]
    first = k.json("get", "pod", "web-0")
    second = k.json("get", "pod", "web-1")
    ready_at = next(c["lastTransitionTime"] for c in first["status"]["conditions"]
                    if c["type"] == "Ready")
    assert second["metadata"]["creationTimestamp"] >= ready_at  # OrderedReady
    assert (second["spec"]["hostname"], second["spec"]["subdomain"]) == ("web-1", "web")
    zone = f"web.{k.namespace}.svc.cluster.local"
    lines = dns_lookup(k, "dig", "A", f"web-0.{zone}", "A", f"web-1.{zone}",
                       "SRV", f"_http._tcp.{zone}")
    assert lines == [
        f"A web-0.{zone} {views['web-0'].ip}", f"A web-1.{zone} {views['web-1'].ip}",
        f"SRV _http._tcp.{zone} 0 50 8080 web-0.{zone}.",
        f"SRV _http._tcp.{zone} 0 50 8080 web-1.{zone}.",
    ]
    _, rows = parse_table(k.ok("get", "statefulset", "web"))
    assert (rows[0]["NAME"], rows[0]["READY"]) == ("web", "2/2")
    described = k.ok("describe", "statefulset", "web")
    assert re.search(r"Pods Status:\s+2 Running / 0 Waiting / 0 Succeeded / 0 Failed", described)
    assert "create Pod web-1 in StatefulSet web successful" in described
    k.ok("scale", "sts", "web", "--replicas=3")
    wait_ready(k, "app=web", 3)
    k.ok("scale", "sts", "web", "--replicas=1")
    seen: list[set[str]] = []

    def scaled_down() -> bool:
        seen.append({p.name for p in pods(k, "app=web") if not p.terminating})
        return seen[-1] == {"web-0"}

    wait_for(scaled_down, 60, interval=0.1, message="web scaled down to web-0")
    assert all("web-1" in names for names in seen if "web-2" in names), seen


def test_not_ready_statefulset_pod_resolves_with_publish_not_ready(kubectl133: Kubectl,
                                                                    ) -> None:
    k = kubectl133
    never = {"exec": {"command": ["false"]}, "periodSeconds": 1}
    sts = statefulset("peer", 1)
    sts["spec"]["template"]["spec"]["containers"] = [agnhost_container(readinessProbe=never)]
    svc = service("peer", [HTTP_PORT], clusterIP="None")
    svc["spec"]["publishNotReadyAddresses"] = True
    k.ok("apply", "-f", "-", input=dump(sts, svc))
    ip = wait_for(lambda: next((p.ip for p in pods(k, "app=peer") if p.ip), None), 60,
                  interval=0.2, message="peer-0's IP")
    assert not pods(k, "app=peer")[0].ready
    fqdn = f"peer-0.peer.{k.namespace}.svc.cluster.local"
    assert dns_lookup(k, "dig-peer", "A", fqdn) == [f"A {fqdn} {ip}"]


def test_statefulset_partition_rollout_history_and_undo(kubectl: Kubectl) -> None:
    k = kubectl
    sts = statefulset("db", 3, podManagementPolicy="Parallel",
                      updateStrategy={"type": "RollingUpdate",
                                      "rollingUpdate": {"partition": 2}})
    k.ok("apply", "-f", "-", input=dump(sts))
    wait_ready(k, "app=db", 3)
    old = revision_label(k, "db-0")
    k.ok("set", "env", "sts/db", "VERSION=2")
    out = k.ok("rollout", "status", "sts/db", "--timeout=60s")
    assert "partitioned roll out complete: 1 new pods have been updated..." in out
    new = revision_label(k, "db-2")
    assert new != old and [revision_label(k, p) for p in ("db-0", "db-1")] == [old, old]
    history = k.ok("rollout", "history", "sts/db")
    assert [ln.split()[0] for ln in history.splitlines()[2:] if ln.strip()] == ["1", "2"]
    k.ok("rollout", "undo", "sts/db")
    wait_for(lambda: revision_label(k, "db-2") == old, 60, interval=0.2,
             message="db-2 back at the first revision")
    env = k.json("get", "sts", "db")["spec"]["template"]["spec"]["containers"][0].get("env")
    assert env is None
    revisions = k.json("get", "controllerrevisions")["items"]
    assert sorted(r["revision"] for r in revisions) == [2, 3]


def test_statefulset_update_of_a_fixed_field_is_forbidden(kubectl133: Kubectl) -> None:
    k = kubectl133
    k.ok("apply", "-f", "-", input=dump(statefulset("fixed", 0)))
    err = k.fail("patch", "sts", "fixed", "-p", '{"spec":{"serviceName":"other"}}')
    assert ('The StatefulSet "fixed" is invalid: spec: Forbidden: updates to statefulset spec '
            "for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', "
            "'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and "
            "'minReadySeconds' are forbidden") in err


def test_daemonset_on_every_node_and_tolerated_taint(kubectl133: Kubectl,
                                                      cluster: Cluster) -> None:
    k = kubectl133
    cluster.kubectl("taint", "nodes", "node-3", "dedicated=infra:NoSchedule", check=True)
    try:
        ds = {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent"},
              "spec": {"selector": {"matchLabels": {"app": "agent"}},
                       "template": template({"app": "agent"})}}
        k.ok("apply", "-f", "-", input=dump(ds))
        assert {p.node for p in wait_ready(k, "app=agent", 2)} == {"node-1", "node-2"}
        ds["spec"]["template"]["spec"]["tolerations"] = [
            {"key": "dedicated", "operator": "Equal", "value": "infra", "effect": "NoSchedule"}]
        k.ok("apply", "-f", "-", input=dump(ds))
        out = k.ok("rollout", "status", "ds/agent", "--timeout=90s")
        assert 'daemon set "agent" successfully rolled out' in out
        ready = wait_ready(k, "app=agent", 3)
        assert sorted(p.node for p in ready) == ["node-1", "node-2", "node-3"]
        _, rows = parse_table(k.ok("get", "ds", "agent"))
        assert {key: rows[0][key] for key in ("DESIRED", "CURRENT", "READY", "UP-TO-DATE",
                                              "AVAILABLE", "NODE SELECTOR")} == {
            "DESIRED": "3", "CURRENT": "3", "READY": "3", "UP-TO-DATE": "3",
            "AVAILABLE": "3", "NODE SELECTOR": "<none>"}
        history = k.ok("rollout", "history", "ds/agent")
        assert [ln.split()[0] for ln in history.splitlines()[2:] if ln.strip()] == ["1", "2"]
        k.ok("rollout", "undo", "ds/agent")
        wait_for(lambda: sorted(p.node for p in pods(k, "app=agent") if not p.terminating)
                 == ["node-1", "node-2"], 60, interval=0.2, message="node-3's pod gone again")
        assert "tolerations" not in k.json("get", "ds", "agent")["spec"]["template"]["spec"]
    finally:
        cluster.kubectl("taint", "nodes", "node-3", "dedicated=infra:NoSchedule-")


def test_job_fails_retries_and_completes(kubectl133: Kubectl, flags: Path) -> None:
    k = kubectl133
    once = flags / "failed-once"
    script = f"if [ -f {once} ]; then echo second try; else touch {once}; exit 1; fi"
    fatal = {"rules": [{"action": "FailJob",
                        "onExitCodes": {"operator": "In", "values": [42]}}]}
    k.ok("apply", "-f", "-", input=dump(job("retry", script, backoffLimit=2),
                                         job("doomed", "exit 3", backoffLimit=0),
                                         job("fatal", "exit 42", podFailurePolicy=fatal)))
    k.ok("wait", "--for=condition=complete", "job/retry", "--timeout=60s")
    status = k.json("get", "job", "retry")["status"]
    assert (status["succeeded"], status["failed"]) == (1, 1)
    assert [c["type"] for c in status["conditions"]] == ["SuccessCriteriaMet", "Complete"]
    k.ok("wait", "--for=condition=failed", "job/doomed", "--timeout=60s")
    failed = k.json("get", "job", "doomed")["status"]["conditions"][-1]
    assert (failed["reason"], failed["message"]) == (
        "BackoffLimitExceeded", "Job has reached the specified backoff limit")
    k.ok("wait", "--for=condition=failed", "job/fatal", "--timeout=60s")
    (pod,) = pods(k, "job-name=fatal")
    failed = k.json("get", "job", "fatal")["status"]["conditions"][-1]
    assert (failed["reason"], failed["message"]) == (
        "PodFailurePolicy", f"Container main for pod {k.namespace}/{pod.name} failed with exit "
        "code 42 matching FailJob rule at index 0")
    _, rows = parse_table(k.ok("get", "jobs"))
    assert [(r["NAME"], r["STATUS"], r["COMPLETIONS"]) for r in rows] == [
        ("doomed", "Failed", "0/1"), ("fatal", "Failed", "0/1"), ("retry", "Complete", "1/1")]


def test_indexed_job_gives_each_pod_its_index(kubectl133: Kubectl) -> None:
    k = kubectl133
    k.ok("apply", "-f", "-", input=dump(job("idx", "echo index=$JOB_COMPLETION_INDEX",
                                             completions=3, parallelism=3,
                                             completionMode="Indexed")))
    k.ok("wait", "--for=condition=complete", "job/idx", "--timeout=60s")
    assert k.json("get", "job", "idx")["status"]["completedIndexes"] == "0-2"
    logs = sorted(k.ok("logs", p.name).strip() for p in pods(k, "job-name=idx"))
    assert logs == ["index=0", "index=1", "index=2"]


def test_job_suspend_resume_and_ttl(kubectl133: Kubectl) -> None:
    k = kubectl133
    k.ok("apply", "-f", "-", input=dump(job("later", "echo ran", suspend=True,
                                             ttlSecondsAfterFinished=0)))
    k.ok("wait", "--for=condition=suspended", "job/later", "--timeout=30s")
    _, rows = parse_table(k.ok("get", "job", "later"))
    assert (rows[0]["STATUS"], rows[0]["COMPLETIONS"]) == ("Suspended", "0/1")
    assert pods(k, "job-name=later") == []
    k.ok("patch", "job", "later", "-p", '{"spec":{"suspend":false}}')
    k.ok("wait", "--for=delete", "job/later", "--timeout=60s")  # completed, then its TTL
    wait_for(lambda: pods(k, "job-name=later") == [], 30, interval=0.2,
             message="the expired Job's pods collected")


@pytest.mark.parametrize("version", ["1.32", "1.33"])
def test_cronjob_create_and_job_from_cronjob(cluster: Cluster, version: str) -> None:
    k = Kubectl(cluster, version, new_namespace(cluster))
    try:
        k.ok("create", "cronjob", "tick", "--image=busybox", "--schedule=@hourly",
             "--", "sh", "-c", "echo tick")
        k.ok("create", "job", "manual", "--from=cronjob/tick")
        k.ok("wait", "--for=condition=complete", "job/manual", "--timeout=60s")
        (pod,) = pods(k, "job-name=manual")
        assert k.ok("logs", pod.name).strip() == "tick"
        _, rows = parse_table(k.ok("get", "cronjob", "tick"))
        assert {key: rows[0][key] for key in ("SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE",
                                              "LAST SCHEDULE")} == {
            "SCHEDULE": "@hourly", "TIMEZONE": "<none>", "SUSPEND": "False", "ACTIVE": "0",
            "LAST SCHEDULE": "<none>"}
        err = k.fail("create", "cronjob", "bad", "--image=busybox", "--schedule=61 * * * *")
        assert 'spec.schedule: Invalid value: "61 * * * *": end of range (61) above maximum ' \
            "(59): 61" in err
    finally:
        cluster.kubectl("delete", "namespace", k.namespace, "--wait=false")


def test_job_selector_must_be_generated(kubectl133: Kubectl) -> None:
    k = kubectl133
    body = job("picky", "true", selector={"matchLabels": {"a": "b"}})
    body["spec"]["template"]["metadata"] = {"labels": {"a": "b"}}
    err = k.fail("create", "-f", "-", input=dump(body))
    assert "spec.selector: Invalid value:" in err and "`selector` not auto-generated" in err


def test_replication_controller_defaults_selector_and_scales(kubectl: Kubectl) -> None:
    k = kubectl
    rc = {"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "legacy"},
          "spec": {"replicas": 1, "template": template({"app": "legacy"})}}
    k.ok("apply", "-f", "-", input=dump(rc))
    assert k.json("get", "rc", "legacy")["spec"]["selector"] == {"app": "legacy"}
    wait_ready(k, "app=legacy", 1)
    k.ok("scale", "rc", "legacy", "--replicas=3")
    wait_ready(k, "app=legacy", 3)
    wait_for(lambda: parse_table(k.ok("get", "rc", "legacy"))[1][0]["READY"] == "3", 30,
             interval=0.2, message="rc legacy READY 3")
    _, rows = parse_table(k.ok("get", "rc", "legacy", "-o", "wide"))
    assert (rows[0]["DESIRED"], rows[0]["CURRENT"], rows[0]["SELECTOR"]) == ("3", "3",
                                                                              "app=legacy")


PYTHON_CLIENT_FLOW = """
import json
from kubernetes import utils
batch = client.BatchV1Api(api)
manifests = json.loads(MANIFESTS)
utils.create_from_yaml(api, yaml_objects=manifests, namespace=NAMESPACE)
seen = {}
reads = {
    "StatefulSet": lambda n: apps.read_namespaced_stateful_set(n, NAMESPACE),
    "DaemonSet": lambda n: apps.read_namespaced_daemon_set(n, NAMESPACE),
    "Job": lambda n: batch.read_namespaced_job(n, NAMESPACE),
    "CronJob": lambda n: batch.read_namespaced_cron_job(n, NAMESPACE),
    "ReplicationController": lambda n: core.read_namespaced_replication_controller(n, NAMESPACE),
}
for body in manifests:
    obj = reads[body["kind"]](body["metadata"]["name"])
    seen[body["kind"]] = obj.metadata.name
label = {"metadata": {"labels": {"patched": "yes"}}}
apps.patch_namespaced_stateful_set("pc-sts", NAMESPACE, label)
batch.patch_namespaced_cron_job("pc-cj", NAMESPACE, {"spec": {"suspend": True}})
core.patch_namespaced_replication_controller("pc-rc", NAMESPACE, label)
w = watch.Watch()
for event in w.stream(batch.list_namespaced_job, NAMESPACE, timeout_seconds=60):
    conditions = event["object"].status.conditions or []
    if any(c.type == "Complete" and c.status == "True" for c in conditions):
        w.stop()
        seen["watched"] = event["object"].metadata.name
print(json.dumps({
    "seen": seen,
    "sts_label": apps.read_namespaced_stateful_set("pc-sts", NAMESPACE).metadata.labels,
    "suspend": batch.read_namespaced_cron_job("pc-cj", NAMESPACE).spec.suspend,
}))
apps.delete_namespaced_stateful_set("pc-sts", NAMESPACE)
apps.delete_namespaced_daemon_set("pc-ds", NAMESPACE)
batch.delete_namespaced_job("pc-job", NAMESPACE, propagation_policy="Background")
batch.delete_namespaced_cron_job("pc-cj", NAMESPACE)
core.delete_namespaced_replication_controller("pc-rc", NAMESPACE)
print(sorted(i.metadata.name for i in apps.list_namespaced_stateful_set(NAMESPACE).items))
"""


def test_python_client_drives_every_kind(kubectl133: Kubectl, cluster: Cluster) -> None:
    sts = statefulset("pc-sts", 1)
    ds = {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "pc-ds"},
          "spec": {"selector": {"matchLabels": {"app": "pc-ds"}},
                   "template": template({"app": "pc-ds"})}}
    done = job("pc-job", "true")
    cron = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "pc-cj"},
            "spec": {"schedule": "0 0 1 1 *", "timeZone": "Europe/Berlin",
                     "jobTemplate": {"spec": job("x", "true")["spec"]}}}
    rc = {"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "pc-rc"},
          "spec": {"replicas": 0, "template": template({"app": "pc-rc"})}}
    manifests = json.dumps([sts, ds, done, cron, rc])
    code = f"NAMESPACE = {kubectl133.namespace!r}\nMANIFESTS = {manifests!r}\n"
    out = cluster.python_client(code + PYTHON_CLIENT_FLOW, timeout=120).splitlines()
    result = json.loads(out[0])
    assert result["seen"] == {"StatefulSet": "pc-sts", "DaemonSet": "pc-ds", "Job": "pc-job",
                              "CronJob": "pc-cj", "ReplicationController": "pc-rc",
                              "watched": "pc-job"}
    assert result["sts_label"] == {"patched": "yes"}
    assert result["suspend"] is True
    assert out[1] == "[]"
    wait_for(lambda: not pods(kubectl133, "app in (pc-sts,pc-ds)"), 60, interval=0.2,
             message="the deleted workloads' pods collected")


def claimed_statefulset(name: str, when_scaled: str, when_deleted: str) -> dict[str, Any]:
    """Two Parallel pods writing to `/data`, one 16Mi claim each from the default class."""
    writer = {"name": "main", "image": "busybox", "command": ["sleep", "3600"],
              "volumeMounts": [{"name": "data", "mountPath": "/data"}]}
    return statefulset(
        name, 2, podManagementPolicy="Parallel",
        template=template({"app": name}, containers=[writer]),
        volumeClaimTemplates=[{"metadata": {"name": "data"}, "spec": {
            "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "16Mi"}}}}],
        persistentVolumeClaimRetentionPolicy={"whenScaled": when_scaled,
                                              "whenDeleted": when_deleted})


def claim_names(k: Kubectl) -> set[str]:
    return {c["metadata"]["name"] for c in k.json("get", "pvc")["items"]}


def test_statefulset_claims_follow_their_pods(kubectl133: Kubectl) -> None:
    k = kubectl133
    k.ok("apply", "-f", "-", input=dump(claimed_statefulset("db", "Delete", "Retain"),
                                         claimed_statefulset("cache", "Retain", "Delete")))
    placed = {p.name: p.node for p in wait_ready(k, "app in (db,cache)", 4)}
    assert claim_names(k) == {"data-db-0", "data-db-1", "data-cache-0", "data-cache-1"}
    for ordinal in (0, 1):
        claim = k.json("get", "pvc", f"data-db-{ordinal}")
        assert claim["status"]["phase"] == "Bound"
        assert claim["metadata"]["labels"] == {"app": "db"}
        pv = k.json("get", "pv", claim["spec"]["volumeName"])
        terms = pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"]
        assert terms[0]["matchExpressions"][0]["values"] == [placed[f"db-{ordinal}"]]
    k.ok("exec", "db-0", "--", "sh", "-c", "echo kept > /data/file")
    old_uid = k.json("get", "pod", "db-0")["metadata"]["uid"]
    k.ok("delete", "pod", "db-0")
    wait_for(lambda: k.json("get", "pod", "db-0")["metadata"]["uid"] != old_uid, 60,
             interval=0.2, message="db-0 recreated")
    (back,) = [p for p in wait_ready(k, "app=db", 2) if p.name == "db-0"]
    assert back.node == placed["db-0"]  # where its volume is
    assert k.ok("exec", "db-0", "--", "cat", "/data/file") == "kept\n"

    k.ok("scale", "sts", "db", "cache", "--replicas=1")
    wait_for(lambda: "data-db-1" not in claim_names(k), 60, interval=0.2,
             message="whenScaled Delete: the claim goes with its pod")
    wait_ready(k, "app=cache", 1)
    assert "data-cache-1" in claim_names(k)  # whenScaled Retain
    k.ok("delete", "sts", "db", "cache")
    wait_for(lambda: not {"data-cache-0", "data-cache-1"} & claim_names(k), 60, interval=0.2,
             message="whenDeleted Delete: the claims go with their StatefulSet")
    assert claim_names(k) == {"data-db-0"}  # whenDeleted Retain


def test_minutely_cronjob_has_fired(cluster: Cluster) -> None:
    """Last in the module: the CronJob made with the cluster ran a Job that completed."""
    k = Kubectl(cluster, "1.33", MINUTELY_NS)

    def succeeded() -> dict[str, Any] | None:
        status = k.json("get", "cronjob", "minutely")["status"]
        return status if status.get("lastSuccessfulTime") else None

    status = wait_for(succeeded, 90, interval=0.5, message="minutely's first success")
    jobs = k.json("get", "jobs")["items"]
    names = {j["metadata"]["name"] for j in jobs}
    scheduled = {j["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"]
                 for j in jobs}
    assert status["lastScheduleTime"] in scheduled
    assert all(n.startswith("minutely-") and n[9:].isdigit() for n in names), names
    (fired,) = [p for p in pods(k, "batch.kubernetes.io/job-name") if p.phase == "Succeeded"][:1]
    assert k.ok("logs", fired.name).strip() == "fired"
    _, rows = parse_table(k.ok("get", "cronjob", "minutely"))
    assert rows[0]["LAST SCHEDULE"] != "<none>" and rows[0]["SCHEDULE"] == "* * * * *"


def test_restart_keeps_every_kind(cluster: Cluster, kubectl133: Kubectl) -> None:
    """Last: the objects, their revisions and their pods survive `portico up` restarting."""
    k = kubectl133
    k.ok("apply", "--server-side", "-f", "-", input=dump(
        statefulset("keep", 2, podManagementPolicy="Parallel"),
        job("once", "echo done")))
    k.ok("wait", "--for=condition=complete", "job/once", "--timeout=60s")
    before = {(p.name, p.ip) for p in wait_ready(k, "app=keep", 2)}
    revision = revision_label(k, "keep-0")
    assert cluster.stop() == 0
    cluster.start()
    assert {(p.name, p.ip) for p in wait_ready(k, "app=keep", 2, timeout=60)} == before
    assert revision_label(k, "keep-0") == revision
    assert len(k.json("get", "controllerrevisions")["items"]) == 1
    _, rows = parse_table(k.ok("get", "job", "once"))
    assert (rows[0]["STATUS"], rows[0]["COMPLETIONS"]) == ("Complete", "1/1")
    shown = k.json("get", "sts", "keep", "--show-managed-fields")
    managers = {m["manager"] for m in shown["metadata"]["managedFields"]}
    assert "kubectl" in managers
