"""Events (core/v1), recorded as client-go's EventRecorder does for controllers.

Each `record` creates an Event named `<object>.<hex nanoseconds>` in the object's
namespace with `source.component` and `reportingComponent` set, `count: 1` and
first/last timestamps; failures are logged, never raised (events are best effort).
`emit` records in the background, for callers on a hot path.
"""

from __future__ import annotations

import asyncio
import logging
import time
from enum import StrEnum
from typing import Any

from lightkube import AsyncClient
from lightkube.resources.core_v1 import Event

from portico.controllers._pods import now_utc, rfc3339

log = logging.getLogger("portico.controllers.events")


class EventType(StrEnum):
    NORMAL = "Normal"
    WARNING = "Warning"


class EventRecorder:
    def __init__(self, client: AsyncClient, component: str) -> None:
        self.client = client
        self.component = component
        self._pending: set[asyncio.Task[None]] = set()

    @staticmethod
    def render(component: str, involved: dict[str, Any], event_type: EventType, reason: str,
               message: str) -> dict[str, Any]:
        meta = involved.get("metadata") or {}
        namespace = meta.get("namespace") or "default"
        stamp = rfc3339(now_utc())
        return {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"{meta.get('name')}.{time.time_ns():x}",
                         "namespace": namespace},
            "involvedObject": {
                "apiVersion": involved.get("apiVersion"), "kind": involved.get("kind"),
                "name": meta.get("name"), "namespace": meta.get("namespace"),
                "uid": meta.get("uid"), "resourceVersion": meta.get("resourceVersion"),
            },
            "reason": reason, "message": message, "type": str(event_type),
            "source": {"component": component},
            "reportingComponent": component, "reportingInstance": component,
            "firstTimestamp": stamp, "lastTimestamp": stamp, "count": 1,
        }

    async def record(self, involved: dict[str, Any], event_type: EventType, reason: str,
                     message: str) -> None:
        body = self.render(self.component, involved, event_type, reason, message)
        try:
            await self.client.create(Event.from_dict(body),
                                     namespace=body["metadata"]["namespace"])
        except Exception as exc:  # noqa: BLE001 - events are best effort
            log.debug("event %s for %s not recorded: %s", reason, body["involvedObject"], exc)

    def emit(self, involved: dict[str, Any], event_type: EventType, reason: str,
             message: str) -> None:
        """`record` without waiting for it (client-go's recorder is asynchronous too)."""
        task = asyncio.create_task(self.record(involved, event_type, reason, message))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
