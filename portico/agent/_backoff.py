"""Crash-loop back-off, as kubelet's `flowcontrol.Backoff` used by `doBackOff`.

Per (pod uid, container) key: the first failure restarts at once and arms a 10 s
back-off; a container that finishes again within the back-off window waits until
`finishedAt + backoff`, then restarts and doubles the back-off (10, 20, 40, ...,
300 s).  A container that ran more than 2 x max (10 minutes) since the last
restart starts over at 10 s.  Times are plain floats (seconds) from an injected
clock, so the schedule is testable without waiting.
"""

from __future__ import annotations

from dataclasses import dataclass

INITIAL_BACKOFF = 10.0
MAX_BACKOFF = 300.0
CRASH_LOOP_BACK_OFF = "CrashLoopBackOff"


@dataclass
class _Entry:
    backoff: float
    last_update: float


class CrashLoopBackoff:
    def __init__(self, initial: float = INITIAL_BACKOFF, maximum: float = MAX_BACKOFF) -> None:
        self.initial = initial
        self.maximum = maximum
        self._entries: dict[str, _Entry] = {}

    def _expired(self, key: str, event_time: float) -> bool:
        entry = self._entries.get(key)
        return entry is None or event_time - entry.last_update > 2 * self.maximum

    def remaining(self, key: str, finished_at: float, now: float) -> float:
        """Seconds left before `key` may restart (0 = may restart now)."""
        if self._expired(key, finished_at):
            return 0.0
        left = self._entries[key].backoff - (now - finished_at)
        return max(left, 0.0)

    def current(self, key: str) -> float:
        """The back-off in force for `key` (for the CrashLoopBackOff message)."""
        entry = self._entries.get(key)
        return entry.backoff if entry else 0.0

    def next(self, key: str, now: float) -> None:
        """Record a restart of `key` at `now`: arm or double its back-off."""
        entry = self._entries.get(key)
        if entry is None or self._expired(key, now):
            self._entries[key] = _Entry(self.initial, now)
        else:
            entry.backoff = min(entry.backoff * 2, self.maximum)
            entry.last_update = now

    def forget(self, key: str) -> None:
        self._entries.pop(key, None)

    def left_since_update(self, key: str, now: float) -> float:
        """Seconds left of `key`'s back-off counted from its last update (0 = not in
        back-off): flowcontrol's IsInBackOffSinceUpdate, used for image pulls."""
        entry = self._entries.get(key)
        if entry is None or self._expired(key, now):
            return 0.0
        return max(entry.last_update + entry.backoff - now, 0.0)

    def gc(self, now: float) -> None:
        """Drop the entries not updated for 2 x max (flowcontrol's GC)."""
        for key in [k for k in self._entries if self._expired(k, now)]:
            del self._entries[key]


def format_duration(seconds: float) -> str:
    """Go's `time.Duration.String()` for whole seconds: 10s, 1m20s, 5m0s."""
    total = int(seconds)
    minutes, secs = divmod(total, 60)
    return f"{minutes}m{secs}s" if minutes else f"{secs}s"


def back_off_message(backoff: float, container: str, pod: str, namespace: str,
                     uid: str) -> str:
    return (f"back-off {format_duration(backoff)} restarting failed container={container} "
            f"pod={pod}_{namespace}({uid})")
