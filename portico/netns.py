"""Entering a named network namespace (`/run/netns/<name>`, as `ip netns add` makes them).

setns(2) moves only the calling thread; a process that enters one before it starts
threads (a forked component, a container) has all of them there.
`end_processes_in` SIGKILLs whatever still runs in one (`ip netns pids`).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess

CLONE_NEWNET = 0x40000000
NETNS_RUN = "/run/netns"
_libc = ctypes.CDLL(None, use_errno=True)


def enter_netns(name: str) -> None:
    """Move the calling thread into network namespace `name`; OSError if it cannot."""
    fd = os.open(os.path.join(NETNS_RUN, name), os.O_RDONLY | os.O_CLOEXEC)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns {name}: {os.strerror(err)}")
    finally:
        os.close(fd)


def end_processes_in(name: str) -> int:
    """SIGKILL every process in network namespace `name`; how many there were."""
    listing = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True)
    ended = 0
    for pid in listing.stdout.split():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), signal.SIGKILL)
            ended += 1
    return ended
