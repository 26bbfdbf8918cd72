"""Jobs (batch/v1): defaults, the generated selector, validation, table.

Defaults are `SetDefaults_Job`: completions and parallelism 1 when both are unset
(parallelism 1 when only it is), backoffLimit 6 (2147483647 with
backoffLimitPerIndex), completionMode NonIndexed, suspend false, manualSelector
left unset and podReplacementPolicy TerminatingOrFailed (Failed with a
podFailurePolicy).

On create, unless `manualSelector` is true, the job strategy's `generateSelector`
labels the template with `batch.kubernetes.io/controller-uid`,
`batch.kubernetes.io/job-name` and their legacy unprefixed twins, and adds the uid
label to the selector; a user selector that does not match those labels is then
"`selector` not auto-generated". `ValidateJobSpec` checks the counts, the restart
policy (OnFailure or Never), Indexed mode's completions, and the selector against
the template. On update the selector, completions (except with parallelism in
elastic Indexed jobs), completionMode and podFailurePolicy are immutable, and the
template only while the job is not suspended.
"""

from __future__ import annotations

import datetime
from typing import Any

from portico.apiserver.errors import FieldError, invalid, not_supported, required
from portico.apiserver.resources import _base
from portico.apiserver.resources._meta import (
    FIELD_IMMUTABLE,
    GoValue,
    validate_immutable,
    validate_nonnegative,
)
from portico.apiserver.resources._owned_status import OwnedStatusStrategy
from portico.apiserver.resources._pod_template import (
    default_pod_template,
)
from portico.apiserver.resources._printers import age, human_duration, name, parse_time
from portico.apiserver.resources._workload import (
    go_selector,
    validate_selector_and_template,
    wide_cells,
    wide_columns,
)
from portico.model.selectors import label_selector_matches
from portico.model.vocabulary import ConditionStatus

CONTROLLER_UID = "batch.kubernetes.io/controller-uid"
JOB_NAME = "batch.kubernetes.io/job-name"
LEGACY_CONTROLLER_UID = "controller-uid"
LEGACY_JOB_NAME = "job-name"
COMPLETION_MODES = ("NonIndexed", "Indexed")
JOB_RESTART_POLICIES = ("OnFailure", "Never")
MAX_INT32 = 2147483647
_NOT_GENERATED = "`selector` not auto-generated"


def default_job_spec(spec: _base.Object) -> None:
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
    spec.setdefault("parallelism", 1)
    if spec.get("backoffLimit") is None:
        spec["backoffLimit"] = MAX_INT32 if spec.get("backoffLimitPerIndex") is not None else 6
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    spec.setdefault("podReplacementPolicy",
                    "Failed" if spec.get("podFailurePolicy") else "TerminatingOrFailed")
    default_pod_template(spec.get("template"))


def generate_selector(obj: _base.Object) -> None:
    """`generateSelector`: the uid and name labels on the template, the uid in the selector."""
    spec = obj.setdefault("spec", {})
    if spec.get("manualSelector"):
        return
    meta = obj.get("metadata") or {}
    uid, job = str(meta.get("uid", "")), str(meta.get("name", ""))
    template = spec.setdefault("template", {})
    labels = template.setdefault("metadata", {}).setdefault("labels", {})
    for key, value in ((LEGACY_CONTROLLER_UID, uid), (LEGACY_JOB_NAME, job),
                       (CONTROLLER_UID, uid), (JOB_NAME, job)):
        labels.setdefault(key, value)
    selector = spec.get("selector")
    if not isinstance(selector, dict):
        selector = spec["selector"] = {}
    selector.setdefault("matchLabels", {}).setdefault(CONTROLLER_UID, uid)


def _generated_selector_errors(obj: _base.Object) -> list[FieldError]:
    spec = obj.get("spec") or {}
    selector = spec.get("selector")
    if spec.get("manualSelector") or not isinstance(selector, dict):
        return []
    meta = obj.get("metadata") or {}
    expected = {CONTROLLER_UID: str(meta.get("uid", "")), JOB_NAME: str(meta.get("name", ""))}
    errs: list[FieldError] = []
    labels = _base.nested(spec, "template", "metadata", "labels", default=None) or {}
    for key, value in expected.items():
        if labels.get(key) != value:
            errs.append(required(f"spec.template.metadata.labels[{key}]", f"must be '{value}'"))
    if not label_selector_matches(selector, expected):
        errs.append(invalid("spec.selector", go_selector(selector), _NOT_GENERATED))
    return errs


def _validate_counts(spec: _base.Object) -> list[FieldError]:
    errs: list[FieldError] = []
    for key in ("parallelism", "completions", "backoffLimit", "backoffLimitPerIndex",
                "maxFailedIndexes", "ttlSecondsAfterFinished"):
        errs.extend(validate_nonnegative(spec.get(key), f"spec.{key}"))
    deadline = spec.get("activeDeadlineSeconds")
    if isinstance(deadline, int) and deadline <= 0:
        errs.append(invalid("spec.activeDeadlineSeconds", deadline, "must be greater than 0"))
    mode = spec.get("completionMode") or "NonIndexed"
    if mode not in COMPLETION_MODES:
        errs.append(not_supported("spec.completionMode", mode, COMPLETION_MODES))
    if mode == "Indexed" and spec.get("completions") is None:
        errs.append(required("spec.completions",
                             "when completion mode is Indexed"))
    if spec.get("backoffLimitPerIndex") is not None and mode != "Indexed":
        errs.append(invalid("spec.backoffLimitPerIndex", spec["backoffLimitPerIndex"],
                            "requires indexed completion mode"))
    return errs


def validate_job_spec(spec: _base.Object) -> list[FieldError]:
    errs = _validate_counts(spec)
    errs.extend(validate_selector_and_template(spec, "job", JOB_RESTART_POLICIES))
    return errs


class JobStrategy(OwnedStatusStrategy):
    def default(self, obj: _base.Object) -> None:
        default_job_spec(obj.setdefault("spec", {}))

    def prepare_for_create(self, obj: _base.Object) -> None:
        super().prepare_for_create(obj)
        generate_selector(obj)

    def validate(self, obj: _base.Object) -> list[FieldError]:
        errs = _generated_selector_errors(obj)
        errs.extend(validate_job_spec(obj.get("spec") or {}))
        return errs

    def validate_update(self, new: _base.Object, old: _base.Object) -> list[FieldError]:
        new_spec, old_spec = new.get("spec") or {}, old.get("spec") or {}
        errs = validate_job_spec(new_spec)
        if new_spec.get("selector") != old_spec.get("selector"):
            errs.extend(validate_immutable(go_selector(new_spec.get("selector") or {}),
                                           go_selector(old_spec.get("selector") or {}),
                                           "spec.selector"))
        for key in ("completionMode", "podFailurePolicy", "backoffLimitPerIndex"):
            errs.extend(validate_immutable(new_spec.get(key), old_spec.get(key), f"spec.{key}"))
        elastic = new_spec.get("completionMode") == "Indexed" and \
            new_spec.get("completions") == new_spec.get("parallelism")
        if not elastic:
            errs.extend(validate_immutable(new_spec.get("completions"),
                                           old_spec.get("completions"), "spec.completions"))
        if not old_spec.get("suspend") and new_spec.get("template") != old_spec.get("template"):
            errs.append(invalid("spec.template", GoValue("core.PodTemplateSpec{...}"),
                                FIELD_IMMUTABLE))
        return errs


def has_condition(obj: _base.Object, cond_type: str) -> bool:
    return any(c.get("type") == cond_type and c.get("status") == ConditionStatus.TRUE
               for c in _base.nested(obj, "status", "conditions", default=None) or [])


def job_status_word(obj: _base.Object) -> str:
    """The STATUS column: Complete, Failed, Terminating, Suspended, FailureTarget, Running."""
    if has_condition(obj, "Complete"):
        return "Complete"
    if has_condition(obj, "Failed"):
        return "Failed"
    if _base.nested(obj, "metadata", "deletionTimestamp"):
        return "Terminating"
    if has_condition(obj, "Suspended"):
        return "Suspended"
    if has_condition(obj, "FailureTarget"):
        return "FailureTarget"
    return "Running"


def _completions(spec: _base.Object, succeeded: int) -> str:
    if spec.get("completions") is not None:
        return f"{succeeded}/{int(spec['completions'])}"
    parallelism = int(spec.get("parallelism") or 0)
    return f"{succeeded}/1 of {parallelism}" if parallelism > 1 else f"{succeeded}/1"


def _duration(status: _base.Object, now: datetime.datetime) -> str:
    start = parse_time(status.get("startTime"))
    if start is None:
        return ""
    end = parse_time(status.get("completionTime")) or now
    return human_duration((end - start).total_seconds())


def cells(obj: _base.Object, now: datetime.datetime) -> list[Any]:
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    return [
        name(obj),
        job_status_word(obj),
        _completions(spec, int(status.get("succeeded") or 0)),
        _duration(status, now),
        age(obj, now),
        *wide_cells(spec),
    ]


COLUMNS = (
    _base.NAME_COLUMN,
    _base.Column("Status", description="Status of the job."),
    _base.Column("Completions", description="The number of pods which reached phase Succeeded. The "
                 "value increases monotonically for a given spec. However, it may decrease in "
                 "reaction to scale down of elastic indexed jobs."),
    _base.Column("Duration", description="Time required to complete the job."),
    _base.AGE_COLUMN,
    *wide_columns("A label query over pods that should match the "
                  "pod count. Normally, the system sets this field for you. More info: "
                  "https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/"
                  "#label-selectors"),
)

JOBS = _base.ResourceType(
    group="batch", version="v1", kind="Job", plural="jobs", singular="job", namespaced=True,
    strategy=JobStrategy(), table=_base.Table(COLUMNS, cells), categories=("all",),
    subresources=(_base.Subresource("status"),), generation=True,
)
