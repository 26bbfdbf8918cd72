"""`agnhost pause`: print "Paused", then wait for a signal (SIGINT exits 1, SIGTERM 2)."""

from __future__ import annotations

import signal
import sys

EXIT_CODES = {signal.SIGINT: 1, signal.SIGTERM: 2}


def pause() -> int:
    received: list[int] = []

    def on_signal(signum: int, frame: object) -> None:
        received.append(EXIT_CODES[signal.Signals(signum)])

    for signum in EXIT_CODES:
        signal.signal(signum, on_signal)
    print("Paused", flush=True)  # after the handlers: whoever saw it may signal at once
    while not received:
        signal.pause()
    sys.stdout.flush()
    return received[0]
