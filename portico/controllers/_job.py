"""The Job controller (and ttl-after-finished): pods to completion, then conditions.

One sync of a Job, from the informer caches: count its pods (`_job_plan.count`),
plan (`_job_plan.plan`), create pods (in slow-start batches) and delete pods,
write the status (startTime when it first runs unsuspended, counters,
completedIndexes/failedIndexes, conditions, completionTime with `Complete`), and
once finished, with ttlSecondsAfterFinished, delete the Job (in the background, as
the ttl-after-finished controller does) that many seconds after its
Complete/Failed condition.

An Indexed job's pod is named `<job>-<index>-<random>`, carries the index as the
`batch.kubernetes.io/job-completion-index` annotation and label, gets the
`JOB_COMPLETION_INDEX` variable from that annotation in every container and the
hostname `<job>-<index>`. Pods are not given the job-tracking finalizer: Failed and
Succeeded pods stay until the Job goes, so counting them is enough.
"""

from __future__ import annotations

import functools
import logging

from portico.client import CascadeType, Obj
from portico.controllers import _job_plan as jp
from portico.controllers._controller import ControllerContext, QueuedController
from portico.controllers._podcontrol import PodControl, pod_from_template
from portico.controllers._pods import involved, meta, now_utc, parse_time, rfc3339
from portico.controllers._workload import (
    controlled_by,
    delete_cached,
    slow_start,
    write_status,
)
from portico.model.kinds import JOB, POD
from portico.model.vocabulary import ConditionStatus, EventType, JobConditionType

log = logging.getLogger("portico.controllers.job")

COMPONENT = "job-controller"
INDEX_ENV = "JOB_COMPLETION_INDEX"
_INTERIM: dict[str, str] = {JobConditionType.COMPLETE: JobConditionType.SUCCESS_CRITERIA_MET.value,
                             JobConditionType.FAILED: JobConditionType.FAILURE_TARGET.value}
_FINAL_EVENTS: dict[str, tuple[EventType, str, str]] = {
    JobConditionType.COMPLETE: (EventType.NORMAL, "Completed", "Job completed")}


def new_pod(job: Obj, index: int | None) -> Obj:
    template = (job.get("spec") or {}).get("template") or {}
    pod = pod_from_template(job, JOB, template)
    if index is None:
        return pod
    name = meta(job)["name"]
    pod["metadata"]["generateName"] = f"{name}-{index}-"
    pod["metadata"].setdefault("annotations", {})[jp.INDEX_ANNOTATION] = str(index)
    pod["metadata"]["labels"][jp.INDEX_ANNOTATION] = str(index)
    pod["spec"]["hostname"] = f"{name}-{index}"
    ref = {"fieldRef": {"apiVersion": "v1",
                        "fieldPath": f"metadata.annotations['{jp.INDEX_ANNOTATION}']"}}
    for key in ("initContainers", "containers"):
        for ctr in pod["spec"].get(key) or []:
            env = [e for e in ctr.get("env") or [] if e.get("name") != INDEX_ENV]
            ctr["env"] = [*env, {"name": INDEX_ENV, "valueFrom": ref}]
    return pod


def _condition(cond_type: str, reason: str, message: str, stamp: str) -> Obj:
    return {"type": cond_type, "status": "True", "lastProbeTime": stamp,
            "lastTransitionTime": stamp, "reason": reason, "message": message}


class JobController(QueuedController):
    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx, COMPONENT, workers=4)
        self.jobs = self.watch(JOB, self.enqueue_current)
        self.pods = self.watch(POD, self.enqueue_owner(JOB))
        self.control = PodControl(self.client, self.pods, self.events, JOB)

    def _owned(self, job: Obj) -> list[Obj]:
        return controlled_by(self.pods.list(meta(job)["namespace"]), job)

    async def sync(self, key: str) -> float | None:
        job = self.jobs.get(key)
        if job is None or meta(job).get("deletionTimestamp") or not self.pods.synced:
            return None
        if jp.finished(job):
            return await self._expire(job)
        now = now_utc()
        view = jp.View(job, self._owned(job), now)
        counts = jp.count(view)
        result = jp.plan(view, counts)
        await slow_start([functools.partial(self.control.create, job, new_pod(job, index))
                          for index in result.create])
        for pod in result.delete:
            await self.control.delete(job, pod)
        await self._write_status(job, jp.count(jp.View(job, self._owned(job), now)), result)
        deadline = (job.get("spec") or {}).get("activeDeadlineSeconds")
        start = parse_time((job.get("status") or {}).get("startTime"))
        if deadline is not None and start is not None and result.finish is None:
            left = (start - now).total_seconds() + int(deadline)
            result.recheck_after = min(result.recheck_after or left, left)
        return max(result.recheck_after, 0.05) if result.recheck_after is not None else None

    def _conditions(self, job: Obj, result: jp.Plan, stamp: str) -> list[Obj]:
        conditions = list((job.get("status") or {}).get("conditions") or [])
        types = {c.get("type") for c in conditions if c.get("status") == ConditionStatus.TRUE}
        suspended = bool((job.get("spec") or {}).get("suspend")) and result.finish is None
        kind = JobConditionType.SUSPENDED.value
        if suspended and kind not in types:
            conditions = [c for c in conditions if c.get("type") != kind]
            conditions.append(_condition(kind, "JobSuspended", "Job suspended", stamp))
        elif not suspended and kind in types:
            conditions = [c for c in conditions if c.get("type") != kind]
            conditions.append(dict(_condition(kind, "JobResumed", "Job resumed", stamp),
                                   status=ConditionStatus.FALSE.value))
        if result.finish is not None:
            cond_type, reason, message = result.finish
            for wanted in (_INTERIM.get(cond_type), cond_type):
                if wanted and wanted not in types:
                    conditions.append(_condition(wanted, reason, message, stamp))
        return conditions

    async def _write_status(self, job: Obj, counts: jp.Counts, result: jp.Plan) -> None:
        now = now_utc()
        stamp = rfc3339(now)
        previous = job.get("status") or {}
        spec = job.get("spec") or {}
        status: Obj = {
            "active": len(counts.active) or None, "ready": jp.ready_count(counts),
            "succeeded": counts.succeeded or None, "failed": counts.failed or None,
            "terminating": counts.terminating, "uncountedTerminatedPods": {},
            "startTime": previous.get("startTime"),
            "conditions": self._conditions(job, result, stamp) or None,
        }
        if spec.get("suspend") and result.finish is None:
            status["startTime"] = None
        elif status["startTime"] is None:
            status["startTime"] = stamp
        if spec.get("completionMode") == "Indexed":
            status["completedIndexes"] = jp.format_indexes(counts.succeeded_indexes)
            if spec.get("backoffLimitPerIndex") is not None:
                status["failedIndexes"] = jp.format_indexes(counts.failed_indexes)
        if result.finish is not None and result.finish[0] == JobConditionType.COMPLETE:
            status["completionTime"] = stamp
        if await write_status(self.client, JOB, self.jobs, job, status):
            await self._record_finish(job, result)

    async def _record_finish(self, job: Obj, result: jp.Plan) -> None:
        if result.finish is None or result.finish[0] not in (JobConditionType.COMPLETE,
                                                             JobConditionType.FAILED):
            return
        kind, reason, message = result.finish
        event = _FINAL_EVENTS.get(kind, (EventType.WARNING, reason, message))
        await self.events.record(involved(JOB, job), *event)

    async def _expire(self, job: Obj) -> float | None:
        ttl = (job.get("spec") or {}).get("ttlSecondsAfterFinished")
        done = jp.finished(job)
        when = parse_time((done or {}).get("lastTransitionTime"))
        if ttl is None or when is None:
            return None
        left = (when - now_utc()).total_seconds() + int(ttl)
        if left > 0:
            return left
        await delete_cached(self.client, JOB, self.jobs, job, CascadeType.BACKGROUND)
        return None
