"""CronJob scheduling arithmetic, after `cronjob_controllerv2.go` and its utils; no I/O.

`due(cj, now)` answers "which scheduled time, if any, should start a Job now, and
when to look again": the schedule (in `spec.timeZone`, else UTC as Portico's
controller manager runs in UTC) is walked from the later of `lastScheduleTime`
(else creation) and `now - startingDeadlineSeconds`; the most recent time at or
before `now` is due unless it is already `lastScheduleTime`. Every time is checked
against the starting deadline (`too_late`).

`job_from_template` is `getJobFromTemplate2`: the Job is named
`<cronjob>-<scheduled unix minutes>`, takes the template's labels, annotations and
spec, the `batch.kubernetes.io/cronjob-scheduled-timestamp` annotation in the
schedule's time zone, and a controller reference to the CronJob.
"""

from __future__ import annotations

import copy
import datetime
import zoneinfo
from dataclasses import dataclass
from enum import StrEnum

from portico.controllers._pods import Obj, meta, owner_reference, parse_time
from portico.model.cron import CronError, parse
from portico.model.kinds import CRON_JOB
from portico.model.vocabulary import ConditionStatus, JobConditionType

SCHEDULED_TIMESTAMP = "batch.kubernetes.io/cronjob-scheduled-timestamp"
TOO_MANY_MISSED = 100
_FINISHED = (JobConditionType.COMPLETE, JobConditionType.FAILED)


@dataclass(frozen=True)
class Due:
    scheduled: datetime.datetime | None  # the time to start a Job for, if any
    next_time: datetime.datetime | None  # the next scheduled time after now
    missed: int = 0  # how many scheduled times passed since the last one


def zone(cj: Obj) -> datetime.tzinfo:
    name = (cj.get("spec") or {}).get("timeZone")
    try:
        return zoneinfo.ZoneInfo(name) if name else datetime.UTC
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return datetime.UTC


def due(cj: Obj, now: datetime.datetime) -> Due:
    spec = cj.get("spec") or {}
    try:
        schedule = parse(str(spec.get("schedule") or ""))
    except CronError:
        return Due(None, None)
    tz = zone(cj)
    last = parse_time((cj.get("status") or {}).get("lastScheduleTime"))
    earliest = last or parse_time(meta(cj).get("creationTimestamp")) or now
    deadline = spec.get("startingDeadlineSeconds")
    if deadline is not None:
        earliest = max(earliest, now - datetime.timedelta(seconds=int(deadline)))
    local_now = now.astimezone(tz)
    cursor = earliest.astimezone(tz).replace(tzinfo=None)
    recent: datetime.datetime | None = None
    missed = 0
    while True:
        step = schedule.next(cursor)
        if step is None:
            return Due(None, None, missed)
        if step > local_now.replace(tzinfo=None):
            nxt = step.replace(tzinfo=tz).astimezone(datetime.UTC)
            scheduled = recent.replace(tzinfo=tz).astimezone(datetime.UTC) if recent else None
            if scheduled is not None and last is not None and scheduled <= last:
                scheduled = None
            return Due(scheduled, nxt, missed)
        recent, cursor = step, step
        missed += 1


class Start(StrEnum):
    """What concurrencyPolicy says about starting a due Job."""

    RUN = "run"
    SKIP = "skip"  # Forbid, with a Job still running
    REPLACE = "replace"  # Replace: delete the running Jobs first


def start_action(cj: Obj, running: int) -> Start:
    policy = (cj.get("spec") or {}).get("concurrencyPolicy", "Allow")
    if running and policy == "Forbid":
        return Start.SKIP
    if running and policy == "Replace":
        return Start.REPLACE
    return Start.RUN


def too_late(cj: Obj, scheduled: datetime.datetime, now: datetime.datetime) -> bool:
    deadline = (cj.get("spec") or {}).get("startingDeadlineSeconds")
    return deadline is not None and scheduled + datetime.timedelta(seconds=int(deadline)) < now


def job_name(cj: Obj, scheduled: datetime.datetime) -> str:
    return f"{meta(cj)['name']}-{int(scheduled.timestamp()) // 60}"


def job_from_template(cj: Obj, scheduled: datetime.datetime) -> Obj:
    template = (cj.get("spec") or {}).get("jobTemplate") or {}
    tmeta = template.get("metadata") or {}
    annotations = dict(tmeta.get("annotations") or {})
    stamp = scheduled.astimezone(zone(cj)).isoformat()
    annotations[SCHEDULED_TIMESTAMP] = stamp.replace("+00:00", "Z")
    return {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": job_name(cj, scheduled), "namespace": meta(cj)["namespace"],
                     "labels": dict(tmeta.get("labels") or {}), "annotations": annotations,
                     "ownerReferences": [owner_reference(cj, CRON_JOB)]},
        "spec": copy.deepcopy(template.get("spec") or {}),
    }


def finished_type(job: Obj) -> str | None:
    for cond in (job.get("status") or {}).get("conditions") or []:
        if cond.get("type") in _FINISHED and cond.get("status") == ConditionStatus.TRUE:
            return str(cond["type"])
    return None


def over_history(jobs: list[Obj], kind: str, limit: int | None) -> list[Obj]:
    """The oldest finished Jobs of `kind` beyond `limit` (none without a limit)."""
    if limit is None:
        return []
    done = [j for j in jobs if finished_type(j) == kind]
    done.sort(key=lambda j: (str((j.get("status") or {}).get("startTime") or ""),
                             str(meta(j).get("name"))))
    return done[:max(len(done) - int(limit), 0)]
