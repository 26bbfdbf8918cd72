"""Pod status from container records: phase, conditions, container states, merge patch."""

from __future__ import annotations

import pytest

from portico.agent._status import (
    ContainerRecord,
    PodFacts,
    State,
    merge_patch,
    pod_phase,
    pod_status,
)

NOW = "2026-01-01T00:00:10Z"


def running(name: str = "c", ready: bool = True) -> ContainerRecord:
    return ContainerRecord(name=name, image="img", state=State.RUNNING, ready=ready,
                           started=True, started_at="2026-01-01T00:00:01Z",
                           container_id="portico://x")


def exited(code: int, name: str = "c", init: bool = False) -> ContainerRecord:
    return ContainerRecord(name=name, image="img", init=init, state=State.TERMINATED,
                           exit_code=code, reason="Completed" if code == 0 else "Error",
                           started_at="a", finished_at="b", container_id="portico://x")


def backing_off(code: int) -> ContainerRecord:
    rec = ContainerRecord(name="c", image="img", reason="CrashLoopBackOff")
    rec.last_terminated = exited(code).terminated()
    return rec


def facts(records: list[ContainerRecord], policy: str = "Always",
          init: list[ContainerRecord] | None = None, **kw: object) -> PodFacts:
    return PodFacts(spec={"restartPolicy": policy}, previous={}, now=NOW,
                    host_ip="10.224.0.4", pod_ip="10.244.0.2", sandbox_ready=True,
                    records=records, init_records=init or [], **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(("f", "phase"), [
    pytest.param(facts([ContainerRecord(name="c", image="i")]), "Pending", id="creating"),
    pytest.param(facts([running()]), "Running", id="running"),
    pytest.param(facts([backing_off(1)]), "Running", id="crashloop-always"),
    pytest.param(facts([exited(0)], "Never"), "Succeeded", id="completed-never"),
    pytest.param(facts([exited(0), exited(1, "d")], "Never"), "Failed", id="one-failed"),
    pytest.param(facts([exited(1)], "OnFailure"), "Running", id="onfailure-restarting"),
    pytest.param(facts([running()], init=[ContainerRecord(name="i", image="i", init=True)]),
                 "Pending", id="initializing"),
    pytest.param(facts([ContainerRecord(name="c", image="i")], "Never",
                       init=[exited(2, "i", True)]), "Failed", id="init-failed-never"),
])
def test_phase(f: PodFacts, phase: str) -> None:
    assert pod_phase(f).value == phase


def test_running_ready_status() -> None:
    status = pod_status(facts([running()], start_time="2026-01-01T00:00:00Z"))
    assert status["phase"] == "Running"
    assert [(c["type"], c["status"]) for c in status["conditions"]] == [
        ("PodReadyToStartContainers", "True"), ("Initialized", "True"), ("Ready", "True"),
        ("ContainersReady", "True"), ("PodScheduled", "True")]
    assert (status["podIP"], status["podIPs"], status["hostIPs"]) == (
        "10.244.0.2", [{"ip": "10.244.0.2"}], [{"ip": "10.224.0.4"}])
    assert status["containerStatuses"] == [{
        "name": "c", "image": "img", "imageID": "portico://img", "ready": True,
        "restartCount": 0, "started": True, "containerID": "portico://x",
        "state": {"running": {"startedAt": "2026-01-01T00:00:01Z"}}, "lastState": {}}]


def test_terminating_pod_stays_ready_while_serving_and_times_are_kept() -> None:
    first = pod_status(facts([running()]))
    later = PodFacts(**{**facts([running()], terminating=True).__dict__, "previous": first,
                        "now": "2026-01-01T00:09:00Z"})
    conds = {c["type"]: c for c in pod_status(later)["conditions"]}
    assert conds["Ready"]["status"] == "True"
    assert conds["Ready"]["lastTransitionTime"] == first_ready_time(first)
    assert conds["PodScheduled"]["lastTransitionTime"] == NOW


def first_ready_time(status: dict) -> str:
    return next(c["lastTransitionTime"] for c in status["conditions"] if c["type"] == "Ready")


def test_crashloop_container_status() -> None:
    rec = backing_off(1)
    rec.restart_count, rec.message = 2, "back-off 20s restarting failed container=c pod=p_n(u)"
    status = rec.status()
    assert status["state"] == {"waiting": {"reason": "CrashLoopBackOff",
                                           "message": rec.message}}
    assert status["lastState"]["terminated"]["exitCode"] == 1
    assert (status["restartCount"], status["ready"]) == (2, False)


def test_merge_patch() -> None:
    old = {"phase": "Pending", "podIP": "x", "a": {"b": 1, "c": 2}}
    new = {"phase": "Running", "a": {"b": 1, "d": 3}}
    assert merge_patch(old, new) == {"phase": "Running", "podIP": None,
                                     "a": {"c": None, "d": 3}}
    assert merge_patch(new, new) == {}
