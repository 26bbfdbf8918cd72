"""The `registry.k8s.io/pause` image: do nothing until told to stop.

As the real pause binary: SIGINT or SIGTERM prints "Shutting down, got signal: ..." and
exits 0; exited children are reaped. Imports only the standard library (starts fast).
"""

from __future__ import annotations

import os
import signal
import sys


def _stop(signum: int, frame: object) -> None:
    names: dict[int, str] = {signal.SIGINT: "Interrupt", signal.SIGTERM: "Terminated"}
    name = names.get(signum, str(signum))
    sys.stderr.write(f"Shutting down, got signal: {name}\n")
    sys.stderr.flush()
    os._exit(0)


def _reap(signum: int, frame: object) -> None:
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        pass


def main() -> None:
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGCHLD, _reap)
    while True:
        signal.pause()


if __name__ == "__main__":
    main()
