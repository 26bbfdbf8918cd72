"""The CronJob controller: Jobs on schedule, concurrency policy, history limits.

One sync of a CronJob (kube's `syncCronJob`), from the informer caches:
1. reconcile `status.active` with its Jobs: gone or finished ones leave it
   (`SawCompletedJob`, and lastSuccessfulTime for a Complete one); an unfinished
   Job it did not create (e.g. `kubectl create job --from=cronjob/...`) is an
   `UnexpectedJob` warning, as upstream;
2. unless suspended, find the scheduled time that is due (`_cronjob_plan.due`):
   missed past the starting deadline is `MissSchedule`; with `Forbid` an active Job
   skips it (`JobAlreadyActive`); with `Replace` active Jobs are deleted first;
   then the Job is created (`SuccessfulCreate`) and recorded in `active` and
   `lastScheduleTime`;
3. finished Jobs beyond successfulJobsHistoryLimit/failedJobsHistoryLimit are
   deleted, oldest first; the sync comes back at the next scheduled time.
"""

from __future__ import annotations

import datetime
import logging

from portico.client import ApiError, CascadeType, Obj
from portico.controllers import _cronjob_plan as cp
from portico.controllers._controller import ControllerContext, QueuedController
from portico.controllers._pods import involved, meta, now_utc, rfc3339
from portico.controllers._workload import controlled_by, delete_cached, write_status
from portico.model.kinds import CRON_JOB, JOB
from portico.model.vocabulary import EventType, JobConditionType

log = logging.getLogger("portico.controllers.cronjob")

COMPONENT = "cronjob-controller"


def job_reference(job: Obj) -> Obj:
    m = meta(job)
    return {"apiVersion": "batch/v1", "kind": "Job", "name": m["name"],
            "namespace": m["namespace"], "uid": m["uid"],
            "resourceVersion": m.get("resourceVersion")}


class CronJobController(QueuedController):
    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx, COMPONENT, workers=2)
        self.cronjobs = self.watch(CRON_JOB, self.enqueue_current)
        self.jobs = self.watch(JOB, self.enqueue_owner(CRON_JOB))
        self._unexpected: set[str] = set()  # uids of unexpected Jobs already reported

    def _event(self, cj: Obj, kind: EventType, reason: str, message: str) -> None:
        self.events.emit(involved(CRON_JOB, cj), kind, reason, message)

    async def sync(self, key: str) -> float | None:
        cj = self.cronjobs.get(key)
        if cj is None or meta(cj).get("deletionTimestamp") or not self.jobs.synced:
            return None
        jobs = controlled_by(self.jobs.list(meta(cj)["namespace"]), cj)
        status = self._reconcile_active(cj, jobs)
        now = now_utc()
        spec = cj.get("spec") or {}
        wait: float | None = None
        if not spec.get("suspend"):
            wait = await self._schedule(cj, status, jobs, now)
        await write_status(self.client, CRON_JOB, self.cronjobs, cj, status)
        for kind, limit in ((JobConditionType.COMPLETE, spec.get("successfulJobsHistoryLimit")),
                            (JobConditionType.FAILED, spec.get("failedJobsHistoryLimit"))):
            for job in cp.over_history(jobs, kind, limit):
                await self._delete_job(cj, job)
        return wait

    def _reconcile_active(self, cj: Obj, jobs: list[Obj]) -> Obj:
        status = dict(cj.get("status") or {})
        by_uid = {meta(j)["uid"]: j for j in jobs}
        active: list[Obj] = []
        for ref in status.get("active") or []:
            job = by_uid.get(ref.get("uid"))
            if job is None:
                continue
            finished = cp.finished_type(job)
            if finished is None:
                active.append(ref)
                continue
            self._event(cj, EventType.NORMAL, "SawCompletedJob",
                        f"Saw completed job: {meta(job)['name']}, status: {finished}")
            if finished == JobConditionType.COMPLETE:
                status["lastSuccessfulTime"] = (job.get("status") or {}).get("completionTime")
        known = {ref.get("uid") for ref in status.get("active") or []}
        for job in jobs:
            if meta(job)["uid"] not in known and cp.finished_type(job) is None and \
                    not self._flagged(job):
                self._event(cj, EventType.WARNING, "UnexpectedJob",
                            f"Saw a job that the controller did not create or forgot: "
                            f"{meta(job)['name']}")
        status["active"] = active or None
        return status

    def _flagged(self, job: Obj) -> bool:
        """Whether this unexpected Job was already reported (once per Job, not per sync)."""
        uid = str(meta(job)["uid"])
        if uid in self._unexpected:
            return True
        self._unexpected.add(uid)
        return False

    async def _schedule(self, cj: Obj, status: Obj, jobs: list[Obj],
                        now: datetime.datetime) -> float | None:
        due = cp.due(cj, now)
        wait = (due.next_time - now).total_seconds() + 0.1 if due.next_time else None
        if due.scheduled is None:
            return wait
        if due.missed > cp.TOO_MANY_MISSED:
            self._event(cj, EventType.WARNING, "TooManyMissedTimes",
                        "too many missed start times. Set or decrease .spec."
                        "startingDeadlineSeconds or check clock skew")
        if cp.too_late(cj, due.scheduled, now):
            self._event(cj, EventType.WARNING, "MissSchedule",
                        f"Missed scheduled time to start a job: {rfc3339(due.scheduled)}")
            return wait
        active_jobs = [j for j in jobs if cp.finished_type(j) is None
                       and meta(j)["uid"] in {r.get("uid") for r in status.get("active") or []}]
        action = cp.start_action(cj, len(active_jobs))
        if action == cp.Start.SKIP:
            self._event(cj, EventType.NORMAL, "JobAlreadyActive",
                        "Not starting job because prior execution is running and concurrency "
                        "policy is Forbid")
            return wait
        if action == cp.Start.REPLACE:
            for job in active_jobs:
                await self._delete_job(cj, job)
            status["active"] = None
        created = await self._create_job(cj, due.scheduled)
        if created is not None:
            status["active"] = [*(status.get("active") or []), job_reference(created)]
        status["lastScheduleTime"] = rfc3339(due.scheduled)
        return wait

    async def _create_job(self, cj: Obj, scheduled: datetime.datetime) -> Obj | None:
        body = cp.job_from_template(cj, scheduled)
        try:
            created = await self.client.create(JOB, body, namespace=meta(cj)["namespace"])
        except ApiError as exc:
            if exc.status.code == 409:
                return None
            self._event(cj, EventType.WARNING, "FailedCreate",
                        f"Error creating job: {exc.status.message}")
            raise
        self.jobs.assume(created)
        self._event(cj, EventType.NORMAL, "SuccessfulCreate",
                    f"Created job {meta(created)['name']}")
        return created

    async def _delete_job(self, cj: Obj, job: Obj) -> None:
        if await delete_cached(self.client, JOB, self.jobs, job, CascadeType.BACKGROUND):
            self._event(cj, EventType.NORMAL, "SuccessfulDelete",
                        f"Deleted job {meta(job)['name']}")
