"""Probe bookkeeping, as kubelet's prober `worker.doProbe`: pure and clock-free.

A `ProbeTracker` exists per (container start, probe type).  It says when a probe
is due (`initialDelaySeconds` after the container started, then every
`periodSeconds`) and folds raw results into the reported one: a result must be
seen `successThreshold` / `failureThreshold` times in a row before it is
reported.  Initial reported results are kubelet's: readiness Failure (not
ready), liveness Success, startup Unknown (not started).  After a liveness or
startup Failure is reported the run counter resets, as kubelet does, so the
restarted container needs a fresh run of failures.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class ProbeType(StrEnum):
    LIVENESS = "liveness"
    READINESS = "readiness"
    STARTUP = "startup"


class ProbeResult(StrEnum):
    SUCCESS = "Success"
    FAILURE = "Failure"
    UNKNOWN = "Unknown"


class ProbeHandler(StrEnum):
    HTTP_GET = "httpGet"
    TCP_SOCKET = "tcpSocket"
    EXEC = "exec"
    GRPC = "grpc"


@dataclass(frozen=True)
class ProbeTiming:
    initial_delay: float = 0.0
    period: float = 10.0
    timeout: float = 1.0
    success_threshold: int = 1
    failure_threshold: int = 3

    @classmethod
    def from_probe(cls, probe: dict[str, Any]) -> ProbeTiming:
        return cls(
            initial_delay=float(probe.get("initialDelaySeconds") or 0),
            period=float(probe.get("periodSeconds") or 10),
            timeout=float(probe.get("timeoutSeconds") or 1),
            success_threshold=int(probe.get("successThreshold") or 1),
            failure_threshold=int(probe.get("failureThreshold") or 3),
        )


def probe_handler(probe: dict[str, Any]) -> ProbeHandler | None:
    for handler in ProbeHandler:
        if handler.value in probe:
            return handler
    return None


INITIAL_RESULT = {
    ProbeType.READINESS: ProbeResult.FAILURE,
    ProbeType.LIVENESS: ProbeResult.SUCCESS,
    ProbeType.STARTUP: ProbeResult.UNKNOWN,
}


class ProbeTracker:
    def __init__(self, probe_type: ProbeType, timing: ProbeTiming, started_at: float) -> None:
        self.probe_type = probe_type
        self.timing = timing
        self.reported = INITIAL_RESULT[probe_type]
        self._next_at = started_at + timing.initial_delay
        self._last: ProbeResult | None = None
        self._run = 0

    def next_at(self) -> float:
        return self._next_at

    def due(self, now: float) -> bool:
        return now >= self._next_at

    def observe(self, result: ProbeResult, now: float) -> ProbeResult | None:
        """Record one probe's result at `now`; return the new reported result if it changed."""
        self._next_at = now + self.timing.period
        if result == self._last:
            self._run += 1
        else:
            self._last, self._run = result, 1
        if result is ProbeResult.FAILURE and self._run < self.timing.failure_threshold:
            return None
        if result is ProbeResult.SUCCESS and self._run < self.timing.success_threshold:
            return None
        previous, self.reported = self.reported, result
        if self.probe_type is not ProbeType.READINESS and result is ProbeResult.FAILURE:
            self._run = 0
        if result != previous or (self.probe_type is ProbeType.LIVENESS
                                  and result is ProbeResult.FAILURE):
            return result
        return None
