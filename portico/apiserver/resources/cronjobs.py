"""CronJobs (batch/v1): defaults, schedule and time zone validation, table.

Defaults are `SetDefaults_CronJob`: concurrencyPolicy Allow, suspend false,
successfulJobsHistoryLimit 3, failedJobsHistoryLimit 1, plus the pod template's.
Validation is `ValidateCronJobCreate`: the schedule must parse as robfig/cron's
standard syntax (its error text is the field error), may not carry TZ/CRON_TZ,
`timeZone` must be an IANA zone, the name at most 52 characters (the controller
appends an 11-character suffix to name Jobs), and the job template's spec follows
the Job rules except that its selector may be empty.
"""

from __future__ import annotations

import datetime
import zoneinfo
from typing import Any

from portico.apiserver.errors import FieldError, invalid, not_supported, required
from portico.apiserver.resources import _base
from portico.apiserver.resources._meta import validate_nonnegative
from portico.apiserver.resources._owned_status import OwnedStatusStrategy
from portico.apiserver.resources._pod_template import (
    default_pod_template,
    validate_pod_template,
)
from portico.apiserver.resources._printers import age, name, since
from portico.apiserver.resources._workload import (
    wide_cells,
)
from portico.apiserver.resources.jobs import COLUMNS as JOB_COLUMNS
from portico.apiserver.resources.jobs import JOB_RESTART_POLICIES
from portico.model.cron import CronError, parse

CONCURRENCY_POLICIES = ("Allow", "Forbid", "Replace")
MAX_NAME_LENGTH = 52
_EXPLICIT_ZONE = ("timeZone must be an explicit time zone as defined in "
                  "https://www.iana.org/time-zones")


def validate_schedule(schedule: str, time_zone: str | None) -> list[FieldError]:
    if not schedule:
        return [required("spec.schedule", "")]
    errs: list[FieldError] = []
    try:
        parse(schedule)
    except CronError as exc:
        errs.append(invalid("spec.schedule", schedule, str(exc)))
    if "TZ" in schedule:
        detail = ("cannot use both timeZone field and TZ or CRON_TZ in schedule"
                  if time_zone is not None else
                  "cannot use TZ or CRON_TZ in schedule, use timeZone field instead")
        errs.append(invalid("spec.schedule", schedule, detail))
    return errs


def validate_time_zone(time_zone: Any) -> list[FieldError]:
    if time_zone is None:
        return []
    if not isinstance(time_zone, str) or time_zone in ("", "Local"):
        return [invalid("spec.timeZone", time_zone, _EXPLICIT_ZONE)]
    try:
        zoneinfo.ZoneInfo(time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return [invalid("spec.timeZone", time_zone, f"unknown time zone {time_zone}")]
    return []


def _validate_job_template(spec: _base.Object) -> list[FieldError]:
    path = "spec.jobTemplate.spec"
    job_spec = _base.nested(spec, "jobTemplate", "spec", default=None) or {}
    errs: list[FieldError] = []
    for key in ("parallelism", "completions", "backoffLimit", "ttlSecondsAfterFinished"):
        errs.extend(validate_nonnegative(job_spec.get(key), f"{path}.{key}"))
    template = job_spec.get("template")
    if not isinstance(template, dict):
        return [*errs, required(f"{path}.template", "")]
    errs.extend(validate_pod_template(template, f"{path}.template"))
    restart = _base.nested(template, "spec", "restartPolicy", default="")
    if restart not in JOB_RESTART_POLICIES:
        errs.append(not_supported(f"{path}.template.spec.restartPolicy", restart,
                                  JOB_RESTART_POLICIES))
    return errs


def validate_cronjob(obj: _base.Object) -> list[FieldError]:
    spec = obj.get("spec") or {}
    errs: list[FieldError] = []
    job_name = str(_base.nested(obj, "metadata", "name", default="") or "")
    if len(job_name) > MAX_NAME_LENGTH:
        errs.append(invalid("metadata.name", job_name,
                            f"must be no more than {MAX_NAME_LENGTH} characters"))
    errs.extend(validate_schedule(str(spec.get("schedule") or ""), spec.get("timeZone")))
    errs.extend(validate_time_zone(spec.get("timeZone")))
    policy = spec.get("concurrencyPolicy") or ""
    if policy not in CONCURRENCY_POLICIES:
        errs.append(not_supported("spec.concurrencyPolicy", policy, CONCURRENCY_POLICIES))
    for key in ("startingDeadlineSeconds", "successfulJobsHistoryLimit",
                "failedJobsHistoryLimit"):
        errs.extend(validate_nonnegative(spec.get(key), f"spec.{key}"))
    errs.extend(_validate_job_template(spec))
    return errs


class CronJobStrategy(OwnedStatusStrategy):
    def default(self, obj: _base.Object) -> None:
        spec = obj.setdefault("spec", {})
        spec.setdefault("concurrencyPolicy", "Allow")
        spec.setdefault("suspend", False)
        spec.setdefault("successfulJobsHistoryLimit", 3)
        spec.setdefault("failedJobsHistoryLimit", 1)
        job_spec = spec.setdefault("jobTemplate", {}).setdefault("spec", {})
        default_pod_template(job_spec.get("template"))

    def validate(self, obj: _base.Object) -> list[FieldError]:
        return validate_cronjob(obj)


def _print_bool(value: Any) -> str:
    """kubectl's `printBoolPtr`: True, False or <unset>."""
    if value is None:
        return "<unset>"
    return "True" if value else "False"


def cells(obj: _base.Object, now: datetime.datetime) -> list[Any]:
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    job_spec = _base.nested(spec, "jobTemplate", "spec", default=None) or {}
    last = status.get("lastScheduleTime")
    return [
        name(obj),
        str(spec.get("schedule") or ""),
        str(spec.get("timeZone")) if spec.get("timeZone") is not None else "<none>",
        _print_bool(spec.get("suspend")),
        len(status.get("active") or []),
        since(last, now) if last else "<none>",
        age(obj, now),
        *wide_cells(job_spec),
    ]


COLUMNS = (
    _base.NAME_COLUMN,
    _base.Column("Schedule", description="The schedule in Cron format, see "
                 "https://en.wikipedia.org/wiki/Cron."),
    _base.Column("Timezone", description="The time zone name for the given schedule, see "
                 "https://en.wikipedia.org/wiki/List_of_tz_database_time_zones."),
    _base.Column("Suspend", type="boolean", description="This flag tells the controller to suspend "
                 "subsequent executions, it does not apply to already started executions. "
                 "Defaults to false."),
    _base.Column("Active", type="integer", description="A list of pointers to currently running "
                 "jobs."),
    _base.Column("Last Schedule", description="Information when was the last time the job was "
                 "successfully scheduled."),
    _base.AGE_COLUMN,
    *JOB_COLUMNS[-3:],
)

CRONJOBS = _base.ResourceType(
    group="batch", version="v1", kind="CronJob", plural="cronjobs", singular="cronjob",
    namespaced=True, strategy=CronJobStrategy(), table=_base.Table(COLUMNS, cells),
    short_names=("cj",), categories=("all",), subresources=(_base.Subresource("status"),),
    generation=True,
)
