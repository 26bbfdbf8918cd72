"""Component processes started by the supervisor, each in its network namespace.

A `Component` says what a child runs (`target`, "module:function", called with
`args`), where (`netns`), under which `ps` title, and where its log and its lock
go.  It is started in one of two ways:

- forked (`fork_child`), at `portico up`: every component (the agents, the cloud
  load balancer, the controller manager) is Python importing the same libraries;
  a fresh interpreter per component spent ~0.5 s of CPU on imports each, several
  at once on two cores, before the cluster could be Ready.  The supervisor
  imports them once, then forks each component before its own event loop starts
  (no threads, no loop to inherit), sharing the loaded modules copy-on-write;
- as a fresh interpreter (`spawn_child`: `python -m portico.cli._children SPEC`),
  when the supervisor restarts a component that died: by then the supervisor
  runs its event loop and threads, and forking such a process is unsafe.

Either way the child then does the same (`_become_child`): SIGTERM when the
supervisor dies (PR_SET_PDEATHSIG), a process group of its own (a Ctrl-C at the
terminal reaches only the supervisor, which then stops the children in order),
its namespace (`setns`), its output to its log file, nothing else of the
supervisor's open files; then it takes its component lock (`hold_component_lock`)
and runs `target(*args)`.

The component lock (a POSIX record lock on `<state dir>/<name>.lock`, which is
not inherited by the processes the component forks and goes with its process)
makes a new incarnation wait for the previous one to be gone: after `kill -9` of
`portico up` the old agents get SIGTERM and take seconds to stop their pods,
holding :10250 meanwhile.  The holder writes its PID into the file; a holder
still there after `LOCK_PATIENCE_SECONDS` is ended with SIGKILL.  The components
talk to each other only through the API server.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import importlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import setproctitle

from portico.netns import enter_netns

log = logging.getLogger("portico.supervisor")
_PR_SET_PDEATHSIG = 1
MAX_FD = 65536
LOCK_PATIENCE_SECONDS = 20.0
LOCK_POLL_SECONDS = 0.05


@dataclass(frozen=True)
class Component:
    name: str
    title: str
    target: str  # "module:function"
    args: tuple[Any, ...]  # JSON values: `target(*args)`
    log_path: str
    lock_path: str
    netns: str | None = None

    def run(self) -> int:
        module, _, function = self.target.partition(":")
        main = getattr(importlib.import_module(module), function)
        return int(main(*self.args) or 0)


class Child(Protocol):
    """What the supervisor uses of a child (`subprocess.Popen` offers it too)."""

    pid: int

    def poll(self) -> int | None: ...
    def wait(self, timeout: float | None = None) -> int: ...
    def terminate(self) -> None: ...
    def kill(self) -> None: ...


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


def _become_child(parent: int, component: Component) -> None:
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:  # the supervisor died before the line above
        os._exit(1)
    os.setpgrp()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)
    if component.netns is not None:
        enter_netns(component.netns)
    log_path = Path(component.log_path)
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


def _holder(fd: int) -> int | None:
    with contextlib.suppress(ValueError):
        return int(os.pread(fd, 32, 0).decode().strip() or "0") or None
    return None


def hold_component_lock(path: Path, patience: float = LOCK_PATIENCE_SECONDS) -> int:
    """Take the component's lock (an fd kept for the life of this process), waiting for
    the previous holder to exit; a holder that outstays `patience` gets SIGKILL."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    deadline, announced, killed = time.monotonic() + patience, False, False
    while True:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except OSError:
            holder = _holder(fd)
            if not announced:
                print(f"portico: waiting for the previous process (pid {holder}) to exit",
                      file=sys.stderr, flush=True)
                announced = True
            if not killed and holder and time.monotonic() > deadline:
                print(f"portico: pid {holder} still holds {path}; killing it",
                      file=sys.stderr, flush=True)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(holder, signal.SIGKILL)
                killed = True
            time.sleep(LOCK_POLL_SECONDS)
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def _run_as_child(parent: int, component: Component) -> int:
    _become_child(parent, component)
    hold_component_lock(Path(component.lock_path))
    return component.run()


def _exit_code(exit_: SystemExit) -> int:
    return exit_.code if isinstance(exit_.code, int) else 1


def fork_child(component: Component) -> ForkedChild:
    """Fork and run the component in the child; call before any event loop or thread
    exists in this process."""
    parent = os.getpid()
    pid = os.fork()
    if pid:
        return ForkedChild(component.name, pid)
    code = 1
    try:
        setproctitle.setproctitle(component.title)
        code = _run_as_child(parent, component)
    except SystemExit as exit_:
        code = _exit_code(exit_)
    except BaseException:  # noqa: BLE001 - report, then exit
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def spawn_child(component: Component) -> subprocess.Popen[bytes]:
    """Start the component in a fresh interpreter (safe from a threaded process)."""
    spec = json.dumps({"parent": os.getpid(), "component": asdict(component)})
    return subprocess.Popen([sys.executable, "-m", "portico.cli._children", spec],
                            stdin=subprocess.DEVNULL)


def main(argv: list[str]) -> int:
    spec = json.loads(argv[0])
    fields = spec["component"]
    component = Component(**{**fields, "args": tuple(fields["args"])})
    setproctitle.setproctitle(component.title)
    try:
        return _run_as_child(int(spec["parent"]), component)
    except SystemExit as exit_:
        return _exit_code(exit_)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
