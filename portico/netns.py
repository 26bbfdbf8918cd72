"""Entering a named network namespace (`/run/netns/<name>`, as `ip netns add` makes them).

setns(2) moves only the calling thread; a process that enters one before it starts
threads (a forked component, a container) has all of them there.
"""

from __future__ import annotations

import ctypes
import os

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
