"""The node's image garbage collection, on kubelet's schedule and with its events.

kubelet's `StartGarbageCollection`: a check at start and then every
`ImageGCPeriod` (5 minutes, `AgentConfig.image_gc_period_seconds`) runs the
disk-usage collection (`portico.oci._disk_gc`, in a thread: it reads the store and
may delete).  Its failures are events on the Node, as kubelet records them: the
collection's own (`FreeDiskSpaceFailed`: it could not free enough;
`InvalidDiskCapacity`) each time, and `ImageGCFailed` with the same message only
when a check fails right after a failed one (kubelet: "Only create an event for
repeated failures").
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from portico.agent._config import AgentConfig
from portico.client import REAL_CLOCK, Clock, EventRecorder
from portico.model.vocabulary import EventType
from portico.oci import ImageStore
from portico.oci._disk_gc import ImageGcError, ImageGcPolicy, NodeImageGc

log = logging.getLogger("portico.agent.images")
Offload = Callable[[Callable[[float], list[str]], float], Awaitable[list[str]]]
IMAGE_GC_FAILED = "ImageGCFailed"


def policy(config: AgentConfig) -> ImageGcPolicy:
    return ImageGcPolicy(config.image_gc_high_threshold_percent,
                         config.image_gc_low_threshold_percent,
                         config.image_minimum_gc_age_seconds)


class ImageGarbageCollector:
    def __init__(self, gc: NodeImageGc, events: EventRecorder, period: float,
                 clock: Clock = REAL_CLOCK, offload: Offload = asyncio.to_thread) -> None:
        self.gc = gc
        self.offload = offload  # how the blocking collection runs (a thread)
        self.events = events
        self.period = period
        self.clock = clock
        self.failed_before = False
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def for_node(cls, config: AgentConfig, store: ImageStore,
                 events: EventRecorder) -> ImageGarbageCollector:
        return cls(NodeImageGc(store, config.node_name, policy(config)), events,
                   config.image_gc_period_seconds)

    def _node(self) -> dict[str, object]:
        """kubelet's nodeRef: the node's name is its UID there (its events go to the
        default namespace)."""
        return {"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": self.gc.node, "uid": self.gc.node, "namespace": ""}}

    async def check(self) -> None:
        """One collection; its failure recorded as kubelet records it."""
        try:
            removed = await self.offload(self.gc.collect, self.clock.now())
        except (ImageGcError, OSError) as error:
            if isinstance(error, ImageGcError):
                await self.events.record(self._node(), EventType.WARNING, error.reason,
                                         str(error))
            if self.failed_before:
                log.error("image garbage collection failed multiple times in a row: %s", error)
                await self.events.record(self._node(), EventType.WARNING, IMAGE_GC_FAILED,
                                         str(error))
            else:
                log.error("image garbage collection failed once: %s", error)
            self.failed_before = True
            return
        self.failed_before = False
        if removed:
            log.info("image garbage collection untagged %s", ", ".join(removed))

    async def _run(self) -> None:
        while True:
            try:
                await self.check()
            except Exception:  # a bug must not end the collection silently
                log.exception("image garbage collection failed")
            await self.clock.sleep(self.period)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="image gc")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
