"""Component processes forked from the supervisor, each in its network namespace.

Why fork: every component (the agents, the cloud load balancer, the controller
manager) is Python importing the same libraries; a fresh interpreter per component
spent ~0.5 s of CPU on imports each, several at once on two cores, before the
cluster could be Ready.  The supervisor imports them once, then forks each
component before its own event loop starts (no threads, no loop to inherit): the
child enters its namespace (`setns`), sends its output to its log file and runs
the component's `main`, sharing the parent's already-loaded modules copy-on-write.
The components still talk to each other only through the API server.

A child gets SIGTERM when the supervisor dies (PR_SET_PDEATHSIG) and has a process
group of its own, so a Ctrl-C at the terminal reaches only the supervisor, which
then stops the children in order.  `ps` shows each by its title (`portico agent
--config D/nodes/node-1/agent.json`, ...).  `ForkedChild` offers what the supervisor uses
of `subprocess.Popen`: `pid`, `poll`, `wait`, `terminate`, `kill`.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import setproctitle

from portico.netns import enter_netns

_PR_SET_PDEATHSIG = 1
MAX_FD = 65536


class ForkedChild:
    def __init__(self, name: str, pid: int) -> None:
        self.name = name
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(self.name, timeout or 0.0)
            time.sleep(0.02)
        assert self.returncode is not None
        return self.returncode

    def _signal(self, sig: signal.Signals) -> None:
        if self.poll() is None:
            os.kill(self.pid, sig)

    def terminate(self) -> None:
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        self._signal(signal.SIGKILL)


def _become_child(parent: int, netns: str | None, log_path: Path) -> None:
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:  # the supervisor died before the line above
        os._exit(1)
    os.setpgrp()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)
    if netns is not None:
        enter_netns(netns)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    out = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    devnull = os.open(os.devnull, os.O_RDONLY)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(devnull, 0)
    os.dup2(out, 1)
    os.dup2(out, 2)
    # nothing else of the supervisor's: not its data-dir lock, not its other files
    os.closerange(3, MAX_FD)


def fork_child(name: str, title: str, main: Callable[[], int], log_path: Path,
               netns: str | None = None) -> ForkedChild:
    """Fork and run `main()` in the child (inside `netns` if given), shown by `ps` as
    `title`; call before any event loop or thread exists in this process."""
    parent = os.getpid()
    pid = os.fork()
    if pid:
        return ForkedChild(name, pid)
    code = 1
    try:
        setproctitle.setproctitle(title)
        _become_child(parent, netns, log_path)
        code = main()
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    except BaseException:  # noqa: BLE001 - report, then exit
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)
