"""Events on Services, as the cloud provider's service controller records them.

Source component `service-controller`; reasons `EnsuringLoadBalancer`,
`EnsuredLoadBalancer`, `DeletingLoadBalancer`, `DeletedLoadBalancer` (Normal) and
`SyncLoadBalancerFailed` (Warning).  Written through the shared client-go-like
recorder (`portico.client.EventRecorder`): a repeat of the same (object, reason,
message) bumps `count` and `lastTimestamp` of the event already written instead of
adding a new one.
"""

from __future__ import annotations

from enum import StrEnum

from portico.client import Api
from portico.client import EventRecorder as SharedRecorder
from portico.cloud.lb.model import ServiceInfo
from portico.model.vocabulary import EventType

__all__ = ["COMPONENT", "EventRecorder", "Reason"]
COMPONENT = "service-controller"


class Reason(StrEnum):
    ENSURING = "EnsuringLoadBalancer"
    ENSURED = "EnsuredLoadBalancer"
    DELETING = "DeletingLoadBalancer"
    DELETED = "DeletedLoadBalancer"
    FAILED = "SyncLoadBalancerFailed"


class EventRecorder:
    def __init__(self, client: Api, component: str = COMPONENT) -> None:
        self._recorder = SharedRecorder(client, component)

    async def record(self, svc: ServiceInfo, type: EventType, reason: Reason,
                     message: str) -> None:
        """Best effort: an event that cannot be written is logged, never raised."""
        service = {"apiVersion": "v1", "kind": "Service",
                   "metadata": {"namespace": svc.namespace, "name": svc.name, "uid": svc.uid}}
        await self._recorder.record(service, type, reason, message)
