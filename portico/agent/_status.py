"""Pod status as kubelet computes it (`generateAPIPodStatus`, `getPhase`): pure.

The pod worker keeps one mutable `ContainerRecord` per container (the runtime's
view); `pod_status` turns the records plus the sandbox facts into the `status`
object, keeping each condition's `lastTransitionTime` from the previous status
while its value does not change.  `merge_patch` diffs the last reported status
against the new one into a JSON merge patch (removed keys become null), so the
worker patches `pods/status` only with what changed, and not at all when nothing
did.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from portico.model.vocabulary import PodConditionType, PodPhase, RestartPolicy

Object = dict[str, Any]


class State(StrEnum):
    WAITING = "waiting"
    RUNNING = "running"
    TERMINATED = "terminated"


class Reason(StrEnum):
    CONTAINER_CREATING = "ContainerCreating"
    POD_INITIALIZING = "PodInitializing"
    COMPLETED = "Completed"
    ERROR = "Error"
    UNKNOWN = "Unknown"
    CONTAINERS_NOT_READY = "ContainersNotReady"
    CONTAINERS_NOT_INITIALIZED = "ContainersNotInitialized"
    POD_COMPLETED = "PodCompleted"


@dataclass
class ContainerRecord:
    """The runtime's view of one container (mutated by the pod worker only)."""
    name: str
    image: str
    init: bool = False
    restart_count: int = 0
    container_id: str = ""
    state: State = State.WAITING
    reason: str = Reason.CONTAINER_CREATING
    message: str = ""
    started_at: str | None = None
    finished_at: str | None = None
    exit_code: int | None = None
    signal: int | None = None
    last_terminated: Object | None = None
    ready: bool = False
    started: bool = False
    image_ref: str = ""  # a pulled image's normalized reference, as containerd reports it
    image_id: str = ""  # and its repo@digest

    def terminated(self) -> Object:
        term: Object = {"exitCode": self.exit_code or 0, "reason": self.reason,
                        "startedAt": self.started_at, "finishedAt": self.finished_at,
                        "containerID": self.container_id}
        if self.message:
            term["message"] = self.message
        if self.signal:
            term["signal"] = self.signal
        return term

    def status(self) -> Object:
        out: Object = {"name": self.name, "image": self.image_ref or self.image, "imageID": "",
                       "ready": self.ready, "restartCount": self.restart_count,
                       "started": self.started if self.state is State.RUNNING else False}
        if self.container_id:
            out["containerID"] = self.container_id
            out["imageID"] = self.image_id or f"portico://{self.image}"
        if self.state is State.RUNNING:
            out["state"] = {"running": {"startedAt": self.started_at}}
        elif self.state is State.TERMINATED:
            out["state"] = {"terminated": self.terminated()}
        else:
            waiting: Object = {"reason": self.reason}
            if self.message:
                waiting["message"] = self.message
            out["state"] = {"waiting": waiting}
        out["lastState"] = {"terminated": self.last_terminated} if self.last_terminated else {}
        return out


@dataclass(frozen=True)
class PodFacts:
    """Everything besides the container records that the status depends on."""
    spec: Object
    previous: Object
    now: str
    host_ip: str
    pod_ip: str = ""
    start_time: str | None = None
    sandbox_ready: bool = False
    terminating: bool = False
    init_records: list[ContainerRecord] = field(default_factory=list)
    records: list[ContainerRecord] = field(default_factory=list)


def _done(rec: ContainerRecord) -> bool:
    return rec.state is State.TERMINATED and rec.exit_code == 0


def init_failed(facts: PodFacts) -> bool:
    """An init container failed and may not be retried (restartPolicy Never)."""
    never = facts.spec.get("restartPolicy", RestartPolicy.ALWAYS) == RestartPolicy.NEVER
    return never and any(r.state is State.TERMINATED and r.exit_code != 0
                         for r in facts.init_records)


def pod_phase(facts: PodFacts) -> PodPhase:
    """`getPhase`: init containers first, then counts of the regular containers."""
    policy = facts.spec.get("restartPolicy", RestartPolicy.ALWAYS)
    if init_failed(facts):
        return PodPhase.FAILED
    if not all(_done(r) for r in facts.init_records):
        return PodPhase.PENDING
    running = waiting = stopped = succeeded = 0
    for rec in facts.records:
        if rec.state is State.RUNNING:
            running += 1
        elif rec.state is State.TERMINATED:
            stopped += 1
            succeeded += rec.exit_code == 0
        elif rec.last_terminated is not None:
            stopped += 1
            succeeded += rec.last_terminated.get("exitCode") == 0
        else:
            waiting += 1
    if waiting:
        return PodPhase.PENDING
    if running:
        return PodPhase.RUNNING
    if not stopped:
        return PodPhase.PENDING
    if policy == RestartPolicy.ALWAYS:
        return PodPhase.RUNNING
    if stopped == succeeded:
        return PodPhase.SUCCEEDED
    return PodPhase.RUNNING if policy == RestartPolicy.ON_FAILURE else PodPhase.FAILED


def _condition(ctype: PodConditionType, ok: bool, reason: str = "", message: str = "") -> Object:
    cond: Object = {"type": ctype.value, "status": "True" if ok else "False"}
    if not ok and reason:
        cond["reason"] = reason
    if not ok and message:
        cond["message"] = message
    return cond


def _conditions(facts: PodFacts, phase: PodPhase) -> list[Object]:
    pending_init = [r.name for r in facts.init_records if not _done(r)]
    initialized = not pending_init or phase is PodPhase.SUCCEEDED
    unready = [r.name for r in facts.records if not r.ready]
    # a terminating pod stays Ready while its containers are ready (kubelet keeps probing):
    # its endpoint is then `serving` and `terminating`, not `ready`
    ready = not unready
    if phase is PodPhase.SUCCEEDED or phase is PodPhase.FAILED:
        ready_reason, ready_msg = Reason.POD_COMPLETED.value, ""
    else:
        ready_reason = Reason.CONTAINERS_NOT_READY.value
        ready_msg = f"containers with unready status: [{' '.join(unready)}]"
    sandbox = facts.sandbox_ready and phase not in (PodPhase.SUCCEEDED, PodPhase.FAILED)
    return [
        _condition(PodConditionType.POD_READY_TO_START_CONTAINERS, sandbox),
        _condition(PodConditionType.INITIALIZED, initialized, Reason.CONTAINERS_NOT_INITIALIZED,
                   f"containers with incomplete status: [{' '.join(pending_init)}]"),
        _condition(PodConditionType.READY, ready, ready_reason, ready_msg),
        _condition(PodConditionType.CONTAINERS_READY, ready, ready_reason, ready_msg),
        _condition(PodConditionType.POD_SCHEDULED, True),
    ]


def _keep_transition_times(conditions: list[Object], previous: list[Object],
                           now: str) -> list[Object]:
    before = {c.get("type"): c for c in previous}
    for cond in conditions:
        old = before.get(cond["type"])
        same = old is not None and old.get("status") == cond["status"]
        cond["lastProbeTime"] = None
        cond["lastTransitionTime"] = (old.get("lastTransitionTime") if same and old else now)
    return conditions


def pod_status(facts: PodFacts) -> Object:
    """The pod's `status` object from the facts (pure)."""
    phase = pod_phase(facts)
    previous = facts.previous or {}
    status: Object = {"phase": phase.value}
    status["conditions"] = _keep_transition_times(
        _conditions(facts, phase), previous.get("conditions") or [], facts.now)
    status["hostIP"] = facts.host_ip
    status["hostIPs"] = [{"ip": facts.host_ip}]
    if facts.pod_ip:
        status["podIP"] = facts.pod_ip
        status["podIPs"] = [{"ip": facts.pod_ip}]
    if facts.start_time:
        status["startTime"] = facts.start_time
    if previous.get("qosClass"):
        status["qosClass"] = previous["qosClass"]
    if facts.init_records:
        status["initContainerStatuses"] = [r.status() for r in facts.init_records]
    status["containerStatuses"] = [r.status() for r in facts.records]
    return status


def merge_patch(previous: Object, current: Object) -> Object:
    """A JSON merge patch (RFC 7386) turning `previous` into `current`."""
    patch: Object = {}
    for key in previous:
        if key not in current:
            patch[key] = None
    for key, value in current.items():
        old = previous.get(key)
        if isinstance(value, dict) and isinstance(old, dict):
            sub = merge_patch(old, value)
            if sub:
                patch[key] = sub
        elif value != old or key not in previous:
            patch[key] = copy.deepcopy(value)
    return patch
