"""Issue 4 end to end: liveness failures restart a container, crash loops back off,
and `kubectl logs --previous` shows the run before the restart."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cluster_support import dump, host_dir, pod, running_cluster

from portico.testing.sandbox import Cluster, wait_for
from tests.conftest import Kubectl


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    yield from running_cluster(nodes=1)


@pytest.fixture
def flags() -> Iterator[Path]:
    yield from host_dir()


def _status(k: Kubectl, name: str) -> dict[str, Any]:
    return dict(k.json("get", "pod", name)["status"]["containerStatuses"][0])


def test_liveness_failure_restarts_the_container(kubectl133: Kubectl, flags: Path) -> None:
    k = kubectl133
    alive = flags / "alive"
    alive.touch()
    script = "echo run-$(date +%s%N); exec sleep 3600"
    container = {"name": "c", "image": "busybox", "command": ["sh", "-c", script],
                 "livenessProbe": {"exec": {"command": ["test", "-f", str(alive)]},
                                   "periodSeconds": 1, "failureThreshold": 2}}
    k.ok("apply", "-f", "-", input=dump(pod("live", {"containers": [container]})))
    wait_for(lambda: _status(k, "live").get("ready"), 30, message="container running")
    first = k.ok("logs", "live").strip()
    assert first.startswith("run-")
    alive.unlink()
    wait_for(lambda: _status(k, "live").get("restartCount", 0) >= 1, 30,
             message="a restart after the liveness probe failed")
    alive.touch()
    status = _status(k, "live")
    assert status["lastState"]["terminated"]["exitCode"] != 0
    wait_for(lambda: k("logs", "live").stdout.strip().startswith("run-"), 30,
             message="the new run's output")
    assert k.ok("logs", "live", "--previous").strip() == first
    assert k.ok("logs", "live").strip() != first


def test_crash_loop_backs_off(kubectl133: Kubectl) -> None:
    k = kubectl133
    container = {"name": "c", "image": "busybox", "command": ["sh", "-c", "echo boom; exit 3"]}
    k.ok("apply", "-f", "-", input=dump(pod("crash", {"containers": [container]})))

    def backing_off() -> dict[str, Any] | None:
        status = _status(k, "crash")
        waiting = status.get("state", {}).get("waiting", {})
        return status if waiting.get("reason") == "CrashLoopBackOff" else None

    status = wait_for(backing_off, 40, interval=0.2, message="CrashLoopBackOff")
    assert status["restartCount"] >= 1
    assert status["lastState"]["terminated"]["exitCode"] == 3
    assert "back-off" in status["state"]["waiting"]["message"]
    assert "CrashLoopBackOff" in k.ok("get", "pod", "crash")
    assert k.ok("logs", "crash", "--previous").strip() == "boom"
