"""Run a benchmark inside a network namespace of its own (loopback only, nothing else).

`ensure_private_netns()` re-executes the current script under `unshare --net` once,
brings `lo` up there, and returns in the child; the namespace disappears with it.
Inside it, `scratch_netns(name)` holds one more named namespace for a measurement
(`ip netns add`), removed when the block ends, also on failure.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

_MARK = "PORTICO_BENCH_NETNS"


def ensure_private_netns() -> None:
    if os.environ.get(_MARK) == "1":
        return
    if os.geteuid() != 0:
        sys.exit("benchmarks need root to run inside a network namespace of their own")
    env = dict(os.environ, **{_MARK: "1"})
    script = "ip link set lo up && exec \"$@\""
    argv = ["unshare", "--net", "--", "sh", "-c", script, "sh", sys.executable, *sys.argv]
    sys.exit(subprocess.call(argv, env=env))


@contextmanager
def scratch_netns(name: str) -> Iterator[str]:
    """The named network namespace `name`, added for the block and deleted after it."""
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)
