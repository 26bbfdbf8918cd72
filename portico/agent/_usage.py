"""Containers' CPU and memory usage, read from /proc, as kubelet's resource metrics give it.

A container's processes are its session: the launcher starts each container in a new
session (`setsid`), so every process whose session id is the container's pid is
the container's (a process that starts a session of its own escapes, as it would
escape nothing in a real container; none of the built-in images do).  One pass
over `/proc/*/stat` (`read_sessions`) gives per session the CPU time used (utime +
stime + the reaped children's cutime + cstime, in seconds) and the resident memory
(RSS, in bytes: kubelet reports the cgroup's working set, which is close to it).

CPU usage is a rate: `UsageTracker.cpu_rate(key, seconds, now)` answers nanocores
over the time since the previous sample of the same key (None for the first), as
metrics-server computes it from two cumulative samples.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class SessionUsage:
    cpu_seconds: float
    memory_bytes: int


def parse_stat(text: str) -> tuple[int, float, int]:
    """(session id, CPU seconds, RSS bytes) from one `/proc/<pid>/stat` line (pure)."""
    fields = text[text.rindex(")") + 2:].split()
    # fields[0] is field 3 (state): session is field 6, utime..cstime 14-17, rss 24
    session = int(fields[3])
    ticks = sum(int(f) for f in fields[11:15])
    return session, ticks / CLOCK_TICKS, int(fields[21]) * PAGE_SIZE


def read_sessions(sessions: set[int], proc: str = "/proc") -> dict[int, SessionUsage]:
    """Usage summed per session id, for the sessions asked for."""
    cpu: dict[int, float] = dict.fromkeys(sessions, 0.0)
    memory: dict[int, int] = dict.fromkeys(sessions, 0)
    for entry in os.listdir(proc):
        if not entry.isdigit():
            continue
        try:
            with open(f"{proc}/{entry}/stat") as stat:
                session, seconds, rss = parse_stat(stat.read())
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile, or a kernel thread
        if session in cpu:
            cpu[session] += seconds
            memory[session] += rss
    return {s: SessionUsage(cpu[s], memory[s]) for s in sessions}


class UsageTracker:
    """The previous cumulative CPU sample per key, to turn samples into rates."""

    def __init__(self) -> None:
        self._previous: dict[str, tuple[float, float]] = {}

    def cpu_rate(self, key: str, cpu_seconds: float, now: float) -> int | None:
        previous = self._previous.get(key)
        self._previous[key] = (cpu_seconds, now)
        if previous is None or now <= previous[1]:
            return None
        return max(0, int((cpu_seconds - previous[0]) / (now - previous[1]) * 1e9))

    def retain(self, keys: set[str]) -> None:
        for key in set(self._previous) - keys:
            del self._previous[key]
