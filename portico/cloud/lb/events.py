"""Events on Services, as the cloud provider's service controller records them.

Source component `service-controller`; reasons `EnsuringLoadBalancer`,
`EnsuredLoadBalancer`, `DeletingLoadBalancer`, `DeletedLoadBalancer` (Normal) and
`SyncLoadBalancerFailed` (Warning). Like client-go's recorder, a repeat of the
same (object, reason, message) bumps `count` and `lastTimestamp` of the event
already written instead of adding a new one.
"""

from __future__ import annotations

import datetime
import logging
import secrets
from enum import StrEnum

from lightkube import ApiError, AsyncClient
from lightkube.models.core_v1 import EventSource, ObjectReference
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Event
from lightkube.types import PatchType

from portico.cloud.lb.model import ServiceInfo

log = logging.getLogger("portico.cloud.lb.events")

COMPONENT = "service-controller"


class Reason(StrEnum):
    ENSURING = "EnsuringLoadBalancer"
    ENSURED = "EnsuredLoadBalancer"
    DELETING = "DeletingLoadBalancer"
    DELETED = "DeletedLoadBalancer"
    FAILED = "SyncLoadBalancerFailed"


class EventType(StrEnum):
    NORMAL = "Normal"
    WARNING = "Warning"


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class EventRecorder:
    def __init__(self, client: AsyncClient, component: str = COMPONENT) -> None:
        self.client = client
        self.component = component
        self._seen: dict[tuple[str, str, str], tuple[str, int]] = {}

    async def record(self, svc: ServiceInfo, type: EventType, reason: Reason,
                     message: str) -> None:
        """Best effort: an event that cannot be written is logged, never raised."""
        key = (svc.uid, reason.value, message)
        now = _now()
        try:
            if key in self._seen:
                name, count = self._seen[key]
                try:
                    await self.client.patch(Event, name, {"count": count + 1,
                                                          "lastTimestamp": now},
                                            namespace=svc.namespace,
                                            patch_type=PatchType.MERGE)
                    self._seen[key] = (name, count + 1)
                    return
                except ApiError as exc:
                    if exc.status.code != 404:
                        raise
            name = f"{svc.name}.{secrets.token_hex(8)}"
            await self.client.create(Event(
                metadata=ObjectMeta(name=name, namespace=svc.namespace),
                involvedObject=ObjectReference(kind="Service", apiVersion="v1",
                                               namespace=svc.namespace, name=svc.name,
                                               uid=svc.uid),
                reason=reason.value, message=message, type=type.value,
                source=EventSource(component=self.component), count=1,
                firstTimestamp=now, lastTimestamp=now,
                reportingComponent=self.component, reportingInstance=""))
            self._seen[key] = (name, 1)
        except Exception as exc:  # noqa: BLE001 - events never fail a sync
            log.warning("cannot record event %s on %s: %s", reason, svc.key, exc)

    def forget(self, uid: str) -> None:
        self._seen = {k: v for k, v in self._seen.items() if k[0] != uid}
