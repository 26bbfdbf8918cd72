"""StatefulSets, DaemonSets, Jobs, CronJobs, ReplicationControllers: defaults, rules, cells."""

from __future__ import annotations

import copy
import datetime
from typing import Any

import pytest

from portico.apiserver.errors import ErrorType, FieldError
from portico.apiserver.resources.cronjobs import CRONJOBS
from portico.apiserver.resources.daemonsets import DAEMONSETS
from portico.apiserver.resources.jobs import JOBS
from portico.apiserver.resources.replicationcontrollers import REPLICATIONCONTROLLERS
from portico.apiserver.resources.statefulsets import STATEFULSETS
from portico.model.cron import CronError, parse

NOW = datetime.datetime(2026, 1, 1, 12, 0, 0, tzinfo=datetime.UTC)


def pod_template(labels: dict[str, str] | None = None, restart: str | None = None,
                 ) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "busybox"}]}
    if restart:
        spec["restartPolicy"] = restart
    return {"metadata": {"labels": labels or {"app": "x"}}, "spec": spec}


def obj(kind: str, **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "x", "namespace": "d", "uid": "u-1",
                         "creationTimestamp": "2026-01-01T11:00:00Z"}, "kind": kind,
            "spec": spec}


def created(rt: Any, body: dict[str, Any]) -> tuple[dict[str, Any], list[FieldError]]:
    body = copy.deepcopy(body)
    rt.strategy.default(body)
    rt.strategy.prepare_for_create(body)
    return body, rt.strategy.validate(body)


def test_statefulset_defaults_and_fixed_fields() -> None:
    body, errs = created(STATEFULSETS, obj("StatefulSet", selector={"matchLabels": {"app": "x"}},
                                           template=pod_template(), serviceName="x"))
    assert errs == []
    spec = body["spec"]
    assert (spec["replicas"], spec["podManagementPolicy"], spec["revisionHistoryLimit"]) == (
        1, "OrderedReady", 10)
    assert spec["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
    assert spec["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain",
                                                            "whenScaled": "Retain"}
    changed = copy.deepcopy(body)
    changed["spec"]["replicas"] = 5
    assert STATEFULSETS.strategy.validate_update(changed, body) == []
    changed["spec"]["serviceName"] = "y"
    (err,) = STATEFULSETS.strategy.validate_update(changed, body)
    assert err.field == "spec" and "updates to statefulset spec for fields other than" in \
        err.detail


def test_statefulset_mounts_its_claim_templates() -> None:
    template = pod_template()
    template["spec"]["containers"][0]["volumeMounts"] = [{"name": "data", "mountPath": "/d"}]
    body = obj("StatefulSet", selector={"matchLabels": {"app": "x"}}, template=template,
               volumeClaimTemplates=[{"metadata": {"name": "data"}, "spec": {}}])
    assert created(STATEFULSETS, body)[1] == []
    del body["spec"]["volumeClaimTemplates"]
    (err,) = created(STATEFULSETS, body)[1]
    assert (err.field, err.type) == ("spec.template.spec.containers[0].volumeMounts[0].name",
                                     ErrorType.NOT_FOUND)


def test_daemonset_defaults_and_empty_selector() -> None:
    body, errs = created(DAEMONSETS, obj("DaemonSet", selector={"matchLabels": {"app": "x"}},
                                         template=pod_template()))
    assert errs == []
    assert body["spec"]["updateStrategy"] == {
        "type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}
    _, errs = created(DAEMONSETS, obj("DaemonSet", selector={}, template=pod_template()))
    assert [e.detail for e in errs if e.field == "spec.selector"] == [
        "empty selector is invalid for daemonset"]


def test_job_generates_its_selector_and_labels() -> None:
    body, errs = created(JOBS, obj("Job", template=pod_template(restart="Never")))
    assert errs == []
    spec = body["spec"]
    assert spec["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": "u-1"}}
    assert spec["template"]["metadata"]["labels"] == {
        "app": "x", "controller-uid": "u-1", "job-name": "x",
        "batch.kubernetes.io/controller-uid": "u-1", "batch.kubernetes.io/job-name": "x"}
    assert (spec["completions"], spec["parallelism"], spec["backoffLimit"],
            spec["completionMode"], spec["suspend"]) == (1, 1, 6, "NonIndexed", False)


@pytest.mark.parametrize(("spec", "field", "detail"), [
    pytest.param({"selector": {"matchLabels": {"app": "x"}}}, "spec.selector",
                 "`selector` not auto-generated", id="selector-not-generated"),
    pytest.param({"template": pod_template()}, "spec.template.spec.restartPolicy",
                 'Unsupported value: "Always": supported values: "OnFailure", "Never"',
                 id="restart-always"),
    pytest.param({"completionMode": "Indexed", "completions": None, "parallelism": 2},
                 "spec.completions", "when completion mode is Indexed", id="indexed-needs-count"),
])
def test_job_validation(spec: dict[str, Any], field: str, detail: str) -> None:
    body = obj("Job", template=pod_template(restart="Never"))
    body["spec"].update(spec)
    _, errs = created(JOBS, body)
    assert any(e.field == field and detail in e.body() for e in errs), errs


@pytest.mark.parametrize(("schedule", "message"), [
    pytest.param("61 * * * *", "end of range (61) above maximum (59): 61", id="minute"),
    pytest.param("* * *", "expected exactly 5 fields, found 3: [* * *]", id="fields"),
    pytest.param("@fortnightly", "unrecognized descriptor: @fortnightly", id="descriptor"),
    pytest.param("*/0 * * * *", "step of range should be a positive number: */0", id="step"),
    pytest.param("a * * * *", 'failed to parse int from a: strconv.Atoi: parsing "a": '
                 "invalid syntax", id="not-a-number"),
])
def test_cron_errors_are_robfigs(schedule: str, message: str) -> None:
    with pytest.raises(CronError) as caught:
        parse(schedule)
    assert str(caught.value) == message


def test_cron_next_handles_names_steps_and_either_day() -> None:
    start = datetime.datetime(2026, 1, 1, 0, 0)  # a Thursday
    assert parse("30 9 * JAN-MAR MON-FRI").next(start) == datetime.datetime(2026, 1, 1, 9, 30)
    assert parse("0 0 13 * FRI").next(start) == datetime.datetime(2026, 1, 2, 0, 0)
    assert parse("*/20 * * * *").next(start) == datetime.datetime(2026, 1, 1, 0, 20)
    assert parse("0 0 29 2 *").next(start) == datetime.datetime(2028, 2, 29, 0, 0)


def test_cronjob_validation_and_cells() -> None:
    job_template = {"spec": {"template": pod_template(restart="OnFailure")}}
    body, errs = created(CRONJOBS, obj("CronJob", schedule="0 * * * *",
                                       jobTemplate=job_template))
    assert errs == []
    assert (body["spec"]["concurrencyPolicy"], body["spec"]["successfulJobsHistoryLimit"],
            body["spec"]["failedJobsHistoryLimit"]) == ("Allow", 3, 1)
    assert CRONJOBS.table.cells(body, NOW)[:6] == ["x", "0 * * * *", "<none>", "False", 0,
                                                   "<none>"]
    bad = obj("CronJob", schedule="CRON_TZ=UTC 0 * * * *", timeZone="Mars/Olympus",
              jobTemplate=job_template)
    _, errs = created(CRONJOBS, bad)
    assert {(e.field, e.detail) for e in errs} >= {
        ("spec.timeZone", "unknown time zone Mars/Olympus"),
        ("spec.schedule", "cannot use both timeZone field and TZ or CRON_TZ in schedule")}


def test_replication_controller_selector_defaults_from_the_template() -> None:
    body, errs = created(REPLICATIONCONTROLLERS, obj("ReplicationController",
                                                     template=pod_template({"tier": "db"})))
    assert errs == []
    assert body["spec"]["selector"] == {"tier": "db"}
    assert body["metadata"]["labels"] == {"tier": "db"}
    body["spec"]["selector"] = {"tier": "web"}
    errs = REPLICATIONCONTROLLERS.strategy.validate(body)
    assert [(e.field, e.detail) for e in errs] == [
        ("spec.template.metadata.labels", "selector does not match template labels")]


@pytest.mark.parametrize(("rt", "kind"), [
    pytest.param(STATEFULSETS, "StatefulSet", id="statefulset"),
    pytest.param(DAEMONSETS, "DaemonSet", id="daemonset"),
])
def test_active_deadline_is_forbidden_in_templates(rt: Any, kind: str) -> None:
    template = pod_template()
    template["spec"]["activeDeadlineSeconds"] = 5
    _, errs = created(rt, obj(kind, selector={"matchLabels": {"app": "x"}}, template=template))
    assert [(e.field, e.body()) for e in errs] == [(
        "spec.template.spec.activeDeadlineSeconds",
        f"Forbidden: activeDeadlineSeconds in {kind} is not Supported")]


def test_job_update_rules() -> None:
    body, _ = created(JOBS, obj("Job", template=pod_template(restart="Never")))
    scaled = copy.deepcopy(body)
    scaled["spec"]["parallelism"] = 4
    assert JOBS.strategy.validate_update(scaled, body) == []
    changed = copy.deepcopy(body)
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx"
    changed["spec"]["completions"] = 3
    assert sorted(e.message() for e in JOBS.strategy.validate_update(changed, body)) == [
        "spec.completions: Invalid value: 3: field is immutable",
        "spec.template: Invalid value: core.PodTemplateSpec{...}: field is immutable"]
    body["spec"]["suspend"] = True
    changed["spec"]["completions"] = body["spec"]["completions"]
    assert JOBS.strategy.validate_update(changed, body) == []
