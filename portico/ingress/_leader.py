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

from lightkube import ApiError, AsyncClient
from lightkube.models.coordination_v1 import LeaseSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.coordination_v1 import Lease

log = logging.getLogger("portico.ingress.leader")


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class LeaderElector:
    def __init__(self, client: AsyncClient, namespace: str, name: str, identity: str,
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
        try:
            lease = await self.client.get(Lease, self.name, namespace=self.namespace)
        except ApiError as exc:
            if exc.status.code != 404:
                raise
            await self.client.create(Lease(
                metadata=ObjectMeta(name=self.name, namespace=self.namespace),
                spec=LeaseSpec(holderIdentity=self.identity, acquireTime=now, renewTime=now,
                               leaseDurationSeconds=self.lease_duration, leaseTransitions=0)))
            return True
        spec = lease.spec or LeaseSpec()
        renewed = spec.renewTime or spec.acquireTime
        duration = spec.leaseDurationSeconds or self.lease_duration
        expired = renewed is None or renewed.replace(tzinfo=renewed.tzinfo or datetime.UTC) \
            + datetime.timedelta(seconds=duration) < now
        if spec.holderIdentity != self.identity and not expired:
            return False
        if spec.holderIdentity != self.identity:
            spec.acquireTime = now
            spec.leaseTransitions = (spec.leaseTransitions or 0) + 1
        spec.holderIdentity, spec.renewTime = self.identity, now
        spec.leaseDurationSeconds = self.lease_duration
        lease.spec = spec
        await self.client.replace(lease)
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
