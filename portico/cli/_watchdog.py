"""The supervisor's watch over its children: a component that dies is restarted.

`Children` holds the running child of each `Component` and its start time.
While the cluster runs, `watch()` polls them every `POLL_SECONDS`; a child that
exited (crashed, `kill -9`, or gave up) is logged with its exit code and started
again as a fresh interpreter (`spawn_child`), after a crash-loop back-off as
kubelet's for containers (at once the first time, then 1 s doubling to 30 s; a
child that ran for a minute starts over).  The new one first waits for its
predecessor's lock (see `_children`), so a component restarted while the old
one still stops never finds its ports taken.

`components.json` in the data dir records each component's current PID and start
time (RFC 3339, microseconds), rewritten at each (re)start: `portico wait` counts
a node Ready only when its agent of that record is alive and has renewed the
node's Lease since it started.  `stop()` ends the watch first (no restart while
the cluster stops), then SIGTERMs every child and SIGKILLs laggards.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import logging
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from portico.agent import CrashLoopBackoff
from portico.cli._children import Child, Component, fork_child, spawn_child

log = logging.getLogger("portico.supervisor")
POLL_SECONDS = 0.2
RESTART_BACKOFF_SECONDS = 1.0
MAX_RESTART_BACKOFF_SECONDS = 30.0
STATUS_FILE = "components.json"


def now_micro() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Running:
    component: Component
    child: Child
    started_at: str
    exited_at: float | None = None  # monotonic, once seen exited


class Children:
    def __init__(self, data_dir: Path) -> None:
        self.status_path = data_dir / STATUS_FILE
        self.running: dict[str, Running] = {}
        self.backoff = CrashLoopBackoff(RESTART_BACKOFF_SECONDS, MAX_RESTART_BACKOFF_SECONDS)
        self._watch: asyncio.Task[None] | None = None

    def fork(self, component: Component) -> None:
        """Start a component by forking (before any event loop or thread exists)."""
        self._record(component, fork_child(component))

    def _record(self, component: Component, child: Child) -> None:
        self.running[component.name] = Running(component, child, now_micro())
        self._write_status()

    def _write_status(self) -> None:
        status = {name: {"pid": r.child.pid, "startedAt": r.started_at}
                  for name, r in self.running.items()}
        tmp = self.status_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(status, indent=1))
        os.replace(tmp, self.status_path)

    def start_watch(self) -> None:
        self._watch = asyncio.create_task(self.watch(), name="watch children")

    async def watch(self) -> None:
        while True:
            for running in list(self.running.values()):
                try:
                    self._check(running, time.monotonic())
                except OSError:  # e.g. no fork possible now: try again at the next poll
                    log.exception("cannot restart %s", running.component.name)
            await asyncio.sleep(POLL_SECONDS)

    def _check(self, running: Running, now: float) -> None:
        name = running.component.name
        if running.exited_at is None:
            code = running.child.poll()
            if code is None:
                return
            running.exited_at = now
            delay = self.backoff.remaining(name, now, now)
            log.warning("%s (pid %d) exited with code %d; restarting it in %.0fs",
                        name, running.child.pid, code, delay)
        if self.backoff.remaining(name, running.exited_at, now) > 0:
            return
        self.backoff.next(name, now)
        self._record(running.component, spawn_child(running.component))
        log.info("%s restarted (pid %d)", name, self.running[name].child.pid)

    async def stop(self, grace: float) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        await asyncio.to_thread(self._stop_all, grace)

    def _stop_all(self, grace: float) -> None:
        """SIGTERM every component (agents stop their pods), then wait; SIGKILL laggards."""
        children = [(name, r.child) for name, r in self.running.items()]
        for name, child in children:
            if child.poll() is None:
                log.info("stopping %s (pid %d)", name, child.pid)
                child.terminate()
        deadline = time.monotonic() + grace
        for _name, child in children:
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(max(deadline - time.monotonic(), 0.0))
            if child.poll() is None:
                child.kill()
                child.wait()
