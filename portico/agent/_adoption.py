"""A restarted agent takes over the containers its launcher kept running (pure parts).

kubelet, restarted, finds its containers running in containerd and carries on
with their status; so does the agent with the containers of its launcher (see
`_keeper`).  Each container started is labelled (`container_labels`) with what
the status needs back: its pod uid, name, restart count, container ID, start time
and working directory.  For a pod with an adopted container the pod worker keeps
the sandbox, does not run the init containers again (their records come back
from the pod's reported status, `restore_finished`), and each adopted container's
record comes back from its labels and the reported status (`restore_running`):
still Running with the same restartCount, lastState and - until its probes
say otherwise - the same ready and started, so its endpoints do not flap.
"""

from __future__ import annotations

from typing import Any

from portico.agent._status import ContainerRecord, State

Object = dict[str, Any]


def container_labels(pod_uid: str, rec: ContainerRecord, working_dir: str) -> Object:
    return {"pod": pod_uid, "container": rec.name, "restartCount": rec.restart_count,
            "containerID": rec.container_id, "startedAt": rec.started_at,
            "workingDir": working_dir}


def reported_status(pod: Object, name: str, init: bool) -> Object:
    """The container's status as last reported on the pod ({} if none)."""
    key = "initContainerStatuses" if init else "containerStatuses"
    for status in (pod.get("status") or {}).get(key) or []:
        if status.get("name") == name:
            return dict(status)
    return {}


def restore_finished(rec: ContainerRecord, reported: Object) -> None:
    """An init container that completed before the agent restarted."""
    done = (reported.get("state") or {}).get("terminated") or {}
    rec.state, rec.reason = State.TERMINATED, done.get("reason", "Completed")
    rec.exit_code = int(done.get("exitCode") or 0)
    rec.started_at, rec.finished_at = done.get("startedAt"), done.get("finishedAt")
    rec.container_id = done.get("containerID") or reported.get("containerID", "")
    rec.restart_count = int(reported.get("restartCount") or 0)
    rec.last_terminated = (reported.get("lastState") or {}).get("terminated")
    rec.ready = rec.started = False


def restore_running(rec: ContainerRecord, labels: Object, reported: Object,
                    spec: Object) -> None:
    """An adopted container, running (its exit, if it came, is then seen at once)."""
    rec.state, rec.reason, rec.message = State.RUNNING, "", ""
    rec.restart_count = int(labels.get("restartCount") or 0)
    rec.container_id = str(labels.get("containerID") or "")
    rec.started_at = labels.get("startedAt")
    rec.finished_at, rec.exit_code, rec.signal = None, None, None
    rec.last_terminated = (reported.get("lastState") or {}).get("terminated")
    same_run = reported.get("containerID") == rec.container_id
    rec.started = "startupProbe" not in spec or (same_run and bool(reported.get("started")))
    rec.ready = rec.started and ("readinessProbe" not in spec
                                 or (same_run and bool(reported.get("ready"))))
