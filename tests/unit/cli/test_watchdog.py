"""The supervisor's watch: a dead component is restarted after a back-off; a new
incarnation of a component waits for its predecessor's lock (killing it if need be)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from pathlib import Path

import pytest

from portico.cli import _watchdog
from portico.cli._children import Component, hold_component_lock
from portico.cli._watchdog import Children, Running
from portico.lifecycle import run_until_signalled


class FakeChild:
    def __init__(self, pid: int, code: int | None = None) -> None:
        self.pid, self.code = pid, code

    def poll(self) -> int | None:
        return self.code

    def wait(self, timeout: float | None = None) -> int:
        return self.code or 0

    def terminate(self) -> None:
        self.code = -15

    def kill(self) -> None:
        self.code = -9


def component(tmp_path: Path) -> Component:
    return Component(name="node-1", title="t", target="m:f", args=(), log_path="l",
                     lock_path=str(tmp_path / "lock"))


def test_a_dead_component_is_restarted_at_once_then_after_a_back_off(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pids = iter(range(100, 200))
    monkeypatch.setattr(_watchdog, "spawn_child", lambda _c: FakeChild(next(pids)))
    children = Children(tmp_path)
    children.running["node-1"] = Running(component(tmp_path), FakeChild(99, -9), "t0")
    children._check(children.running["node-1"], 1000.0)
    assert children.running["node-1"].child.pid == 100  # at once
    status = json.loads((tmp_path / "components.json").read_text())
    assert status["node-1"]["pid"] == 100
    children.running["node-1"].child = FakeChild(100, 1)  # crashes again
    children._check(children.running["node-1"], 1000.5)
    children._check(children.running["node-1"], 1001.0)
    assert children.running["node-1"].child.pid == 100  # backing off (1 s)
    children._check(children.running["node-1"], 1001.6)
    assert children.running["node-1"].child.pid == 101


def test_the_lock_waits_for_the_previous_holder_and_kills_one_that_stays(
        tmp_path: Path) -> None:
    lock = tmp_path / "component.lock"
    holder = os.fork()
    if holder == 0:
        try:
            hold_component_lock(lock)
            time.sleep(60)
        finally:
            os._exit(0)
    deadline = time.monotonic() + 10
    while not lock.exists() or not lock.read_text().strip():
        assert time.monotonic() < deadline
        time.sleep(0.01)
    started = time.monotonic()
    fd = hold_component_lock(lock, patience=0.3)
    assert time.monotonic() - started < 5
    _, status = os.waitpid(holder, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    assert lock.read_text().strip() == str(os.getpid())
    os.close(fd)


async def test_a_signal_during_start_up_cancels_it_and_stops() -> None:
    """A component still waiting for the API server stops at once on SIGTERM."""
    events: list[str] = []

    async def start() -> None:
        asyncio.get_running_loop().call_later(0.05, os.kill, os.getpid(), signal.SIGTERM)
        try:
            await asyncio.sleep(120)
        except asyncio.CancelledError:
            events.append("start cancelled")
            raise

    async def stop() -> None:
        events.append("stopped")

    began = time.monotonic()
    assert await run_until_signalled(start, stop) == 0
    assert time.monotonic() - began < 5
    assert events == ["start cancelled", "stopped"]
