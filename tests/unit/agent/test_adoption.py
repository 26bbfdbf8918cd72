"""A restarted agent's view of adopted containers (status restored), and the launcher's
table of kept containers (exit statuses and fds kept until released)."""

from __future__ import annotations

import json
import os
import socket
import threading

from portico.agent._adoption import (
    container_labels,
    reported_status,
    restore_finished,
    restore_running,
)
from portico.agent._keeper import Keeper, list_kept
from portico.agent._status import ContainerRecord, State

PROBED = {"name": "c", "readinessProbe": {"httpGet": {"port": 80}}}
REPORTED = {"name": "c", "containerID": "portico://abc", "ready": True, "started": True,
            "restartCount": 2, "lastState": {"terminated": {"exitCode": 1}},
            "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}}


def labels(container_id: str = "portico://abc") -> dict:
    rec = ContainerRecord(name="c", image="x", restart_count=2, container_id=container_id,
                          started_at="2026-01-01T00:00:00Z")
    return container_labels("uid-1", rec, "/work")


def test_labels_carry_what_the_status_needs() -> None:
    assert labels() == {"pod": "uid-1", "container": "c", "restartCount": 2,
                        "containerID": "portico://abc", "startedAt": "2026-01-01T00:00:00Z",
                        "workingDir": "/work"}


def test_an_adopted_container_keeps_its_status_and_readiness() -> None:
    rec = ContainerRecord(name="c", image="x", restart_count=3)  # as a fresh worker counts
    restore_running(rec, labels(), REPORTED, PROBED)
    assert (rec.state, rec.restart_count, rec.container_id, rec.started_at) == (
        State.RUNNING, 2, "portico://abc", "2026-01-01T00:00:00Z")
    assert rec.last_terminated == {"exitCode": 1}
    assert rec.ready and rec.started


def test_readiness_of_another_run_is_not_inherited() -> None:
    rec = ContainerRecord(name="c", image="x")
    restore_running(rec, labels("portico://other"), REPORTED, PROBED)
    assert not rec.ready
    restore_running(rec, labels("portico://other"), REPORTED, {"name": "c"})
    assert rec.ready  # no readiness probe: ready once running


def test_completed_init_containers_come_back_from_the_reported_status() -> None:
    pod = {"status": {"initContainerStatuses": [{
        "name": "init", "restartCount": 0, "state": {"terminated": {
            "exitCode": 0, "reason": "Completed", "containerID": "portico://i",
            "startedAt": "a", "finishedAt": "b"}}}]}}
    rec = ContainerRecord(name="init", image="x", init=True)
    restore_finished(rec, reported_status(pod, "init", True))
    assert (rec.state, rec.exit_code, rec.reason, rec.container_id, rec.finished_at) == (
        State.TERMINATED, 0, "Completed", "portico://i", "b")
    assert reported_status(pod, "init", False) == {}


def test_the_keeper_lists_kept_containers_with_their_fds_until_released() -> None:
    keeper = Keeper()
    agent, launcher = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    out_r, out_w = os.pipe()
    kept = keeper.started(41, {"labels": {"pod": "u", "container": "c"}, "keep": ["stdout"]},
                          [os.dup(out_r)])
    keeper.started(42, {"labels": {"pod": "u", "container": "d"}, "keep": []}, [])
    keeper.exited(42, -9)
    assert len(kept) == 1
    os.close(out_r)  # the agent that started it is gone; the launcher's copy remains
    serving = threading.Thread(target=lambda: keeper.handle(json.loads(launcher.recv(4096)),
                                                            launcher))
    serving.start()
    listed = list_kept(agent)
    serving.join()
    assert [(a.pid, a.labels["container"], a.returncode, list(a.fds)) for a in listed] == [
        (41, "c", None, ["stdout"]), (42, "d", -9, [])]
    os.write(out_w, b"still here\n")
    assert os.read(listed[0].fds["stdout"], 100) == b"still here\n"
    assert keeper.handle({"release": 42}, launcher) and sorted(keeper.kept) == [41]
    assert keeper.handle({"shutdown": True}, launcher) and keeper.shutdown
    assert not keeper.handle({"id": 1, "argv": ["true"]}, launcher)
    for fd in (out_w, listed[0].fds["stdout"]):
        os.close(fd)
    keeper.release(41)
    agent.close()
    launcher.close()

