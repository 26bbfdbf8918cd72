"""The agent's resource metrics: PodMetrics and NodeMetrics written every `metrics_seconds`.

What metrics-server does with kubelet's numbers, done by the agent itself: each round
reads its running containers' usage (`_usage`), turns CPU time into a rate over the
round (`window`), and writes (merge patch, or create) one PodMetrics per pod (its labels, one
entry per running container, owned by the Pod) and one NodeMetrics for the node
(the sum over its pods).  A pod appears from its second round on (a rate needs two
samples), as with metrics-server.  Failures are logged and the next round tries again.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from portico.agent._usage import UsageTracker, read_sessions
from portico.client import Api, ApiError
from portico.model.kinds import NODE_METRICS, POD_METRICS
from portico.model.quantity import format_bytes

if TYPE_CHECKING:
    from portico.agent._pod import PodWorker

log = logging.getLogger("portico.agent.metrics")
Object = dict[str, Any]


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _usage(nanocores: int, memory: int) -> Object:
    return {"cpu": f"{nanocores}n", "memory": format_bytes(memory)}


def pod_metrics(worker: PodWorker, containers: list[tuple[str, int, int]], window: float,
                ) -> Object:
    """The PodMetrics of a pod: (container, nanocores, memory bytes) each (pure)."""
    meta = worker.pod["metadata"]
    return {
        "apiVersion": POD_METRICS.api_version, "kind": POD_METRICS.gvk.kind,
        "metadata": {"name": meta["name"], "namespace": meta["namespace"],
                     "labels": dict(meta.get("labels") or {}),
                     "ownerReferences": [{"apiVersion": "v1", "kind": "Pod",
                                          "name": meta["name"], "uid": meta["uid"]}]},
        "timestamp": _now(), "window": f"{int(window)}s",
        "containers": [{"name": n, "usage": _usage(c, m)} for n, c, m in containers],
    }


class MetricsReporter:
    def __init__(self, client: Api, node_name: str, interval: float,
                 workers: Callable[[], Iterable[PodWorker]]) -> None:
        self.client = client
        self.node_name = node_name
        self.interval = interval
        self.workers = workers
        self.tracker = UsageTracker()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="metrics")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _loop(self) -> None:
        while True:
            try:
                await self.report()
            except Exception as error:  # noqa: BLE001 - the next round tries again
                log.warning("metrics round failed: %r", error)
            await asyncio.sleep(self.interval)

    async def report(self) -> None:
        running = [(w, r.record.name, r.proc.pid) for w in self.workers()
                   for r in w.containers if r.proc is not None and r.proc.running()]
        usage = await asyncio.to_thread(read_sessions, {pid for _, _, pid in running})
        now = time.monotonic()
        per_pod: dict[str, list[tuple[str, int, int]]] = {}
        workers: dict[str, PodWorker] = {}
        for worker, name, pid in running:
            rate = self.tracker.cpu_rate(f"{worker.uid}/{name}/{pid}", usage[pid].cpu_seconds,
                                         now)
            if rate is not None:
                per_pod.setdefault(worker.uid, []).append((name, rate, usage[pid].memory_bytes))
                workers[worker.uid] = worker
        self.tracker.retain({f"{w.uid}/{n}/{p}" for w, n, p in running})
        for uid, containers in per_pod.items():
            await self._apply(pod_metrics(workers[uid], containers, self.interval))
        await self._apply({
            "apiVersion": NODE_METRICS.api_version, "kind": NODE_METRICS.gvk.kind,
            "metadata": {"name": self.node_name}, "timestamp": _now(),
            "window": f"{int(self.interval)}s",
            "usage": _usage(sum(c for cs in per_pod.values() for _, c, _ in cs),
                            sum(m for cs in per_pod.values() for _, _, m in cs))})

    async def _apply(self, obj: Object) -> None:
        """A merge patch of the whole object (cheaper than server-side apply, which would
        track field managers on every round), or a create the first time."""
        kind = POD_METRICS if obj["kind"] == POD_METRICS.gvk.kind else NODE_METRICS
        meta = obj["metadata"]
        try:
            await self.client.patch(kind, meta["name"], obj, namespace=meta.get("namespace"))
        except ApiError as error:
            if error.code != 404:
                raise
            await self.client.create(kind, obj, namespace=meta.get("namespace"))
