"""Events (core/v1) recorded as client-go's legacy `EventRecorder` does.

`render` builds the Event: named `<object>.<hex nanoseconds>` in the object's
namespace, `involvedObject` a reference to the object (with `fieldPath` for a
container, e.g. `spec.containers{web}`), `source` {component, host},
`reportingComponent` the component and `reportingInstance` the host (empty for a
controller, as client-go's `makeEvent`), `count: 1` and first/last timestamps.  Each one is
then correlated (`_correlator`: aggregation, de-duplication into `count`, spam
filter) and written: created, or patched when it repeats one already written (a
patch that finds the event gone creates it again, as client-go does).

`record` writes before returning; `emit` queues the write for one background sender
per recorder, so a component's events reach the API server in the order recorded
(kubectl describe sorts by time at second resolution, then by name).  Writing is
best effort: failures are logged, never raised.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from portico.client._api import Api, ApiError
from portico.client._correlator import Clock, Correlated, EventCorrelator, rfc3339
from portico.model.kinds import EVENT
from portico.model.vocabulary import EventType

log = logging.getLogger("portico.events")
Object = dict[str, Any]


def object_reference(obj: Object, field_path: str = "") -> Object:
    """An ObjectReference to `obj` (kubelet: `fieldPath` names the container)."""
    meta = obj.get("metadata") or {}
    ref = {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"),
           "name": meta.get("name"), "namespace": meta.get("namespace"),
           "uid": meta.get("uid"), "resourceVersion": meta.get("resourceVersion")}
    if field_path:
        ref["fieldPath"] = field_path
    return ref


class EventRecorder:
    def __init__(self, client: Api, component: str, host: str = "",
                 clock: Clock = time.time) -> None:
        self.client = client
        self.component = component
        self.host = host
        self.clock = clock
        self.correlator = EventCorrelator(clock)
        self._queue: asyncio.Queue[Correlated] | None = None
        self._sender: asyncio.Task[None] | None = None

    def render(self, involved: Object, event_type: EventType, reason: str, message: str,
               field_path: str = "") -> Object:
        ref = object_reference(involved, field_path)
        stamp = rfc3339(self.clock())
        source = {"component": self.component}
        if self.host:
            source["host"] = self.host
        return {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"{ref['name']}.{time.time_ns():x}",
                         "namespace": ref["namespace"] or "default"},
            "involvedObject": ref, "reason": reason, "message": message,
            "type": str(event_type), "source": source,
            "reportingComponent": self.component,
            "reportingInstance": self.host,
            "firstTimestamp": stamp, "lastTimestamp": stamp, "count": 1,
        }

    def _correlate(self, involved: Object, event_type: EventType, reason: str, message: str,
                   field_path: str) -> Correlated | None:
        return self.correlator.correlate(
            self.render(involved, event_type, reason, message, field_path))

    async def _write(self, item: Correlated) -> None:
        event = item.event
        namespace = event["metadata"]["namespace"]
        try:
            if item.patch is not None:
                try:
                    await self.client.patch(EVENT, event["metadata"]["name"], item.patch,
                                            namespace=namespace)
                    return
                except ApiError as error:
                    if error.code != 404:
                        raise
            await self.client.create(EVENT, event, namespace=namespace)
        except Exception as exc:  # noqa: BLE001 - events are best effort
            log.debug("event %s for %s not recorded: %s", event["reason"],
                      event["involvedObject"], exc)

    async def record(self, involved: Object, event_type: EventType, reason: str,
                     message: str, field_path: str = "") -> None:
        item = self._correlate(involved, event_type, reason, message, field_path)
        if item is not None:
            await self._write(item)

    def emit(self, involved: Object, event_type: EventType, reason: str, message: str,
             field_path: str = "") -> None:
        """`record` without waiting for it (client-go's recorder is asynchronous too)."""
        item = self._correlate(involved, event_type, reason, message, field_path)
        if item is None:
            return
        if self._queue is None:
            self._queue = asyncio.Queue()
        if self._sender is None or self._sender.done():
            self._sender = asyncio.create_task(self._send(self._queue), name="events")
        self._queue.put_nowait(item)

    async def _send(self, queue: asyncio.Queue[Correlated]) -> None:
        while True:
            item = await queue.get()
            try:
                await self._write(item)
            finally:
                queue.task_done()

    async def flush(self, timeout: float) -> None:
        """Wait (at most `timeout` seconds) for the queued events to be written."""
        if self._queue is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._queue.join(), timeout)

    async def close(self) -> None:
        if self._sender is not None:
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender
