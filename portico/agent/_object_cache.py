"""The ConfigMaps and Secrets the node's pods' volumes read, from watches (kubelet's
`configMapAndSecretChangeDetectionStrategy: Watch`).

kubelet does not GET a pod's ConfigMaps and Secrets: its watch-based manager keeps,
for every object a registered pod references, one reflector (a list and a watch of
that one name, `fieldSelector=metadata.name=NAME`, which the node authorizer allows
for objects of the node's pods), shared by every pod that references it and stopped
when the last of them is unregistered.  `ObjectCache` does the same with one
`Informer` per (kind, namespace, name): `register(uid, namespace, refs)` when a pod's
volumes are first set up, `unregister(uid)` when its worker ends, `get(...)` the
object as last seen (None: it does not exist), after the first listing.  A burst of
pods in one namespace thus costs one list and one watch of `kube-root-ca.crt` per
node instead of a GET per pod (and per volume refresh), and a ConfigMap created or
changed later reaches the pods' volumes through the watch, as in kubelet.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable

from portico.client import Api, Informer, Obj
from portico.model.kinds import Kind

SYNC_TIMEOUT = 2.0  # kubelet waits a second for a new reflector before failing the mount
ObjectRef = tuple[Kind, str, str]  # kind, namespace, name


class CacheNotSynced(Exception):
    """The object's first listing did not arrive in time (the caller retries)."""


class ObjectCache:
    def __init__(self, api: Api) -> None:
        self.api = api
        self._informers: dict[ObjectRef, Informer] = {}
        self._refs: dict[ObjectRef, set[str]] = {}  # object -> uids of the pods reading it
        self._pods: dict[str, set[ObjectRef]] = {}  # pod uid -> the objects it reads
        self._stopping: set[asyncio.Task[None]] = set()

    def register(self, uid: str, refs: Iterable[ObjectRef]) -> None:
        """The objects pod `uid` reads (idempotent); their watches start if new."""
        wanted = set(refs)
        for ref in wanted - self._pods.get(uid, set()):
            self._refs.setdefault(ref, set()).add(uid)
            if ref not in self._informers:
                kind, namespace, name = ref
                informer = Informer(self.api, kind, namespace, fields={"metadata.name": name})
                self._informers[ref] = informer
                informer.start()
        self._pods.setdefault(uid, set()).update(wanted)

    def unregister(self, uid: str) -> None:
        """Pod `uid` is gone: stop the watches no other pod needs."""
        for ref in self._pods.pop(uid, set()):
            readers = self._refs.get(ref, set())
            readers.discard(uid)
            if not readers:
                self._refs.pop(ref, None)
                self._stop(self._informers.pop(ref))

    def _stop(self, informer: Informer) -> None:
        task = asyncio.create_task(informer.stop())
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)

    async def get(self, ref: ObjectRef) -> Obj | None:
        """The object as last seen by its watch (registered first), None if it does not
        exist; raises CacheNotSynced when its first listing is late."""
        informer = self._informers[ref]
        if not informer.synced:
            try:
                await asyncio.wait_for(informer.wait_synced(), SYNC_TIMEOUT)
            except TimeoutError:
                raise CacheNotSynced(f"failed to sync {ref[0].plural[:-1]} cache: timed out "
                                     "waiting for the condition") from None
        return informer.get(f"{ref[1]}/{ref[2]}")

    async def stop(self) -> None:
        for informer in self._informers.values():
            self._stop(informer)
        self._informers.clear()
        self._refs.clear()
        self._pods.clear()
        with contextlib.suppress(Exception):
            await asyncio.gather(*self._stopping)
