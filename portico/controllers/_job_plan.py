"""What one Job sync does, after `pkg/controller/job/job_controller.go`; no I/O.

Counting: succeeded and failed pods (a Failed pod matching a podFailurePolicy
`Ignore` rule does not count; with restartPolicy OnFailure container restarts count
as failures, as upstream), active pods (neither finished nor being deleted).
Indexed jobs count per completion index (annotation
`batch.kubernetes.io/job-completion-index`): an index succeeds once, and with
backoffLimitPerIndex an index whose failures exceed it is a failed index.

Finishing follows 1.33's two steps: a `SuccessCriteriaMet` (or `FailureTarget`)
condition first, the active pods deleted, then `Complete` (or `Failed`) once no
pod of the job is still running, with the same reason and message. The job fails
when failures exceed backoffLimit (`BackoffLimitExceeded`), it runs past
activeDeadlineSeconds (`DeadlineExceeded`), a pod matches a `FailJob` rule
(`PodFailurePolicy`), more indexes failed than maxFailedIndexes
(`MaxFailedIndexesExceeded`), or every index finished and one failed
(`FailedIndexes`). A suspended job deletes its active pods (`Suspended`).

Otherwise `plan` asks for pods up to parallelism (NonIndexed: min(parallelism,
completions - succeeded), or parallelism until the first success when completions
is unset; Indexed: the lowest pending indexes); pods being deleted count against
parallelism only with `podReplacementPolicy: Failed`. After failures a replacement waits
10 s doubled per failure, at most 6 min (`DefaultJobPodFailureBackOff`).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from portico.controllers._podfailure import Failure, match_rule
from portico.controllers._pods import (
    Obj,
    deletion_rank,
    is_ready,
    is_terminating,
    meta,
    parse_time,
    phase,
    restarts,
)
from portico.model.vocabulary import (
    ConditionStatus,
    JobConditionType,
    PodPhase,
    PodReplacementPolicy,
    RestartPolicy,
)

INDEX_ANNOTATION = "batch.kubernetes.io/job-completion-index"
BACKOFF_BASE = 10.0
BACKOFF_MAX = 360.0
COMPLETIONS_REACHED = ("CompletionsReached", "Reached expected number of succeeded pods")
BACKOFF_EXCEEDED = ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
DEADLINE_EXCEEDED = ("DeadlineExceeded", "Job was active longer than specified deadline")
FAILED_INDEXES = ("FailedIndexes", "Job has failed indexes")
MAX_FAILED_INDEXES = ("MaxFailedIndexesExceeded", "Job has exceeded the specified maximal "
                      "number of failed indexes")


def index_of(pod: Obj) -> int | None:
    value = (meta(pod).get("annotations") or {}).get(INDEX_ANNOTATION)
    return int(value) if value is not None and str(value).isdigit() else None


def format_indexes(indexes: set[int]) -> str:
    """`1,3-5,7`: the compressed interval list of completedIndexes/failedIndexes."""
    parts: list[str] = []
    ordered = sorted(indexes)
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(parts)


def condition_true(job: Obj, cond_type: str) -> Obj | None:
    for cond in (job.get("status") or {}).get("conditions") or []:
        if cond.get("type") == cond_type and cond.get("status") == ConditionStatus.TRUE:
            return dict(cond)
    return None


def finished(job: Obj) -> Obj | None:
    return (condition_true(job, JobConditionType.COMPLETE)
            or condition_true(job, JobConditionType.FAILED))


@dataclass(frozen=True)
class View:
    job: Obj
    pods: list[Obj]
    now: datetime.datetime

    @property
    def spec(self) -> Obj:
        return self.job.get("spec") or {}

    @property
    def indexed(self) -> bool:
        return self.spec.get("completionMode") == "Indexed"


@dataclass
class Counts:
    active: list[Obj] = field(default_factory=list)
    terminating: int = 0
    succeeded: int = 0
    failed: int = 0
    succeeded_indexes: set[int] = field(default_factory=set)
    failed_indexes: set[int] = field(default_factory=set)
    failures_per_index: dict[int, int] = field(default_factory=dict)
    fail_job: Failure | None = None
    last_failure: datetime.datetime | None = None


def _count_failure(view: View, pod: Obj, counts: Counts) -> None:
    rule = match_rule(view.spec.get("podFailurePolicy"), pod)
    action = rule.action if rule else "Count"
    if action == "Ignore":
        return
    if action == "FailJob" and counts.fail_job is None:
        counts.fail_job = rule
    index = index_of(pod)
    counts.failed += 1
    if index is not None:
        counts.failures_per_index[index] = counts.failures_per_index.get(index, 0) + 1
        per_index = view.spec.get("backoffLimitPerIndex")
        if action == "FailIndex" or (per_index is not None
                                     and counts.failures_per_index[index] > int(per_index)):
            counts.failed_indexes.add(index)
    when = _finished_at(pod)
    if when and (counts.last_failure is None or when > counts.last_failure):
        counts.last_failure = when


def _finished_at(pod: Obj) -> datetime.datetime | None:
    times = [parse_time((c.get("state") or {}).get("terminated", {}).get("finishedAt"))
             for c in (pod.get("status") or {}).get("containerStatuses") or []]
    known = [t for t in times if t is not None]
    return max(known) if known else parse_time(meta(pod).get("creationTimestamp"))


def count(view: View) -> Counts:
    counts = Counts()
    for pod in view.pods:
        if phase(pod) == PodPhase.SUCCEEDED:
            index = index_of(pod)
            if index is None or index not in counts.succeeded_indexes:
                counts.succeeded += 1
            if index is not None:
                counts.succeeded_indexes.add(index)
        elif phase(pod) == PodPhase.FAILED:
            _count_failure(view, pod, counts)
        elif is_terminating(pod):
            counts.terminating += 1
        else:
            counts.active.append(pod)
    counts.failed_indexes -= counts.succeeded_indexes
    return counts


@dataclass
class Plan:
    create: list[int | None] = field(default_factory=list)  # completion indexes (None: any)
    delete: list[Obj] = field(default_factory=list)
    finish: tuple[str, str, str] | None = None  # (condition type, reason, message)
    recheck_after: float | None = None


def failure_reason(view: View, counts: Counts) -> tuple[str, str] | None:
    spec = view.spec
    if counts.fail_job is not None:
        return ("PodFailurePolicy", counts.fail_job.message)
    max_failed = spec.get("maxFailedIndexes")
    if max_failed is not None and len(counts.failed_indexes) > int(max_failed):
        return MAX_FAILED_INDEXES
    if spec.get("backoffLimitPerIndex") is None:
        retries = counts.failed
        template_spec = (spec.get("template") or {}).get("spec", {})
        if template_spec.get("restartPolicy") == RestartPolicy.ON_FAILURE:
            retries += sum(restarts(p) for p in counts.active)
        if retries > int(spec.get("backoffLimit", 6)):
            return BACKOFF_EXCEEDED
    start = parse_time((view.job.get("status") or {}).get("startTime"))
    deadline = spec.get("activeDeadlineSeconds")
    if start is not None and deadline is not None and not spec.get("suspend") and \
            start + datetime.timedelta(seconds=int(deadline)) <= view.now:
        return DEADLINE_EXCEEDED
    return None


def _complete(view: View, counts: Counts) -> bool:
    completions = view.spec.get("completions")
    if view.indexed:
        done = counts.succeeded_indexes | counts.failed_indexes
        return completions is not None and len(done) >= int(completions)
    if completions is None:
        return counts.succeeded > 0 and not counts.active
    return counts.succeeded >= int(completions)


def _wanted(view: View, counts: Counts) -> list[int | None]:
    parallelism = int(view.spec.get("parallelism", 1))
    completions = view.spec.get("completions")
    busy = len(counts.active)
    # wait for terminating pods
    if view.spec.get("podReplacementPolicy") == PodReplacementPolicy.FAILED:
        busy += counts.terminating
    room = parallelism - busy
    if view.indexed:
        running = {index_of(p) for p in counts.active}
        pending = [i for i in range(int(completions or 0)) if i not in running
                   and i not in counts.succeeded_indexes and i not in counts.failed_indexes]
        return list(pending[:max(room, 0)])
    if completions is None:
        want = parallelism if counts.succeeded == 0 else 0
    else:
        want = min(parallelism, int(completions) - counts.succeeded)
    return [None] * max(want - busy, 0)


def _backoff_wait(view: View, counts: Counts) -> float:
    if counts.last_failure is None or counts.failed == 0:
        return 0.0
    delay = min(BACKOFF_BASE * 2.0 ** (counts.failed - 1), BACKOFF_MAX)
    return max((counts.last_failure - view.now).total_seconds() + delay, 0.0)


def plan(view: View, counts: Counts) -> Plan:
    result = Plan()
    if finished(view.job):
        return result
    target = condition_true(view.job, JobConditionType.FAILURE_TARGET) or \
        condition_true(view.job, JobConditionType.SUCCESS_CRITERIA_MET)
    if target is None:
        failure = failure_reason(view, counts)
        if failure is not None:
            target = {"type": JobConditionType.FAILURE_TARGET.value, "reason": failure[0],
                      "message": failure[1]}
        elif _complete(view, counts):
            target = {"type": JobConditionType.SUCCESS_CRITERIA_MET.value,
                      "reason": COMPLETIONS_REACHED[0], "message": COMPLETIONS_REACHED[1]}
    if target is not None:
        result.delete = list(counts.active)
        final = (JobConditionType.FAILED if target["type"] == JobConditionType.FAILURE_TARGET
                 else JobConditionType.COMPLETE).value
        result.finish = (str(target["type"]), str(target["reason"]), str(target["message"]))
        if not counts.active and not counts.terminating:
            result.finish = (final, str(target["reason"]), str(target["message"]))
        return result
    if view.spec.get("suspend"):
        result.delete = list(counts.active)
        return result
    wanted = _wanted(view, counts)
    if wanted:
        wait = _backoff_wait(view, counts)
        if wait > 0:
            result.recheck_after = wait
            return result
        result.create = wanted
    elif not view.indexed:
        extra = len(counts.active) - int(view.spec.get("parallelism", 1))
        result.delete = sorted(counts.active, key=deletion_rank)[:max(extra, 0)]
    return result


def ready_count(counts: Counts) -> int:
    return sum(1 for p in counts.active if is_ready(p))
