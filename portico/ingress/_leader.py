"""Leader election on a coordination.k8s.io Lease, as client-go's leaderelection does.

Every replica serves traffic; only the leader writes Ingress status and Events,
so replicas never fight. `LeaderElector.step()` gets the Lease: it is created
when absent; taken over when its holder is us or its `renewTime +
leaseDurationSeconds` has passed; otherwise left alone. The write is a replace
carrying the resourceVersion read, so two replicas racing for an expired Lease
cannot both win (one gets 409 Conflict). `run()` steps every `retry_period`
and calls `on_change(is_leader)` when leadership changes.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import Callable
from typing import Any

from portico.client import Api
from portico.model.kinds import LEASE

log = logging.getLogger("portico.ingress.leader")


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _micro_time(when: datetime.datetime) -> str:
    """A metav1.MicroTime, as the API writes it."""
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_time(text: Any) -> datetime.datetime | None:
    if not text:
        return None
    parsed = datetime.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)


class LeaderElector:
    def __init__(self, client: Api, namespace: str, name: str, identity: str,
                 on_change: Callable[[bool], None], lease_duration: int = 15,
                 retry_period: float = 2.0) -> None:
        self.client = client
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.on_change = on_change
        self.lease_duration = lease_duration
        self.retry_period = retry_period
        self.is_leader = False

    async def step(self) -> bool:
        now = _now()
        lease = await self.client.get_or_none(LEASE, self.name, self.namespace)
        if lease is None:
            await self.client.create(LEASE, {
                "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": self.name, "namespace": self.namespace},
                "spec": {"holderIdentity": self.identity, "acquireTime": _micro_time(now),
                         "renewTime": _micro_time(now),
                         "leaseDurationSeconds": self.lease_duration, "leaseTransitions": 0}})
            return True
        spec = dict(lease.get("spec") or {})
        renewed = _parse_time(spec.get("renewTime") or spec.get("acquireTime"))
        duration = spec.get("leaseDurationSeconds") or self.lease_duration
        expired = renewed is None or renewed + datetime.timedelta(seconds=duration) < now
        if spec.get("holderIdentity") != self.identity and not expired:
            return False
        if spec.get("holderIdentity") != self.identity:
            spec["acquireTime"] = _micro_time(now)
            spec["leaseTransitions"] = (spec.get("leaseTransitions") or 0) + 1
        spec.update(holderIdentity=self.identity, renewTime=_micro_time(now),
                    leaseDurationSeconds=self.lease_duration)
        await self.client.replace(LEASE, {**lease, "spec": spec})
        return True

    async def run(self) -> None:
        while True:
            try:
                leader = await self.step()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - 409s and outages: not leader this round
                log.debug("lease %s/%s: %s", self.namespace, self.name, exc)
                leader = False
            if leader != self.is_leader:
                self.is_leader = leader
                log.info("%s leadership of %s/%s", "acquired" if leader else "lost",
                         self.namespace, self.name)
                self.on_change(leader)
            await asyncio.sleep(self.retry_period)
