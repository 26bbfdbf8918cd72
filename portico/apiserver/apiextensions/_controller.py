"""The CRD controllers of kube-apiserver, inside the API server process.

One task watches the store's CRD keys and, after every change, re-syncs all CRDs:

- **names and establishing** (`_names.next_status`): NamesAccepted against the
  other CRDs of the group (in creation order), then Established; the status is
  written through `/status` (a write that changes nothing is skipped, so the
  loop settles);
- **serving**: every served version of every Established CRD becomes a
  `ResourceType` of the registry (`Registry.set_custom`), which discovery,
  OpenAPI and the resource handlers read on each request. Types are rebuilt only
  when a CRD's generation, accepted names or deletion state change (compiling
  the CEL rules is the costly part);
- **cleanup** (kube's finalizer controller): a CRD being deleted gets
  Terminating, its custom resources are deleted (those with finalizers stay
  until their finalizers go; the CRD is polled every second), then the
  `customresourcecleanup.apiextensions.k8s.io` finalizer is removed, which
  deletes the CRD.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from portico.apiserver import errors
from portico.apiserver.apiextensions._kinds import served_types
from portico.apiserver.apiextensions._names import is_true, next_status, set_condition
from portico.apiserver.apiextensions._strategy import CustomResourceStrategy
from portico.apiserver.registry import DeleteOptions, Registry, WriteOptions
from portico.apiserver.registry._objects import decode, deep_copy, prefix_for
from portico.apiserver.resources._base import Object, ResourceType
from portico.apiserver.resources._printers import now_utc, rfc3339
from portico.apiserver.resources.customresourcedefinitions import (
    CLEANUP_FINALIZER,
    CUSTOMRESOURCEDEFINITIONS,
)

log = logging.getLogger("portico.apiserver.crd")
CRD_PREFIX = prefix_for(CUSTOMRESOURCEDEFINITIONS, None)
CLEANUP_POLL_SECONDS = 1.0


def _serving_key(crd: Object) -> tuple[Any, ...]:
    status = crd.get("status") or {}
    return (crd["metadata"].get("uid"), crd["metadata"].get("generation"),
            repr(status.get("acceptedNames")), bool(crd["metadata"].get("deletionTimestamp")))


class CrdController:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._types: dict[str, tuple[tuple[Any, ...], list[ResourceType]]] = {}
        self._cleanups: dict[str, asyncio.Task[None]] = {}
        self._task: asyncio.Task[None] | None = None
        self._decoded: dict[str, tuple[int, Object]] = {}

    def start(self) -> None:
        """Serve the stored CRDs now, then keep following changes."""
        watcher = self.registry.store.watch(CRD_PREFIX, self.registry.store.revision)
        self.sync()
        self._task = asyncio.create_task(self._run(watcher))

    async def stop(self) -> None:
        for task in [self._task, *self._cleanups.values()]:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _run(self, watcher: Any) -> None:
        try:
            while not watcher.closed:
                await watcher.wait(None)
                if watcher.drain():
                    self.sync()
        finally:
            watcher.close()

    def _crds(self) -> list[Object]:
        """Every CRD in creation order; each version is decoded once (they are large)."""
        crds = []
        decoded: dict[str, tuple[int, Object]] = {}
        for kv in self.registry.store.range(CRD_PREFIX):
            cached = self._decoded.get(kv.key)
            if cached is None or cached[0] != kv.mod_revision:
                cached = (kv.mod_revision, decode(kv))
            decoded[kv.key] = cached
            crds.append(cached[1])
        self._decoded = decoded
        return sorted(crds, key=lambda c: (c["metadata"].get("creationTimestamp", ""),
                                           c["metadata"]["name"]))

    def sync(self) -> None:
        """Bring every CRD's status and the served custom kinds up to date."""
        crds = [dict(crd) for crd in self._crds()]  # statuses change below, not the cache's
        for crd in crds:
            self._update_status(crd, crds)
        crds = self._crds()
        served: list[ResourceType] = []
        seen = set()
        for crd in crds:
            name = crd["metadata"]["name"]
            seen.add(name)
            served.extend(self._served(crd))
            if crd["metadata"].get("deletionTimestamp") and name not in self._cleanups:
                self._cleanups[name] = asyncio.create_task(self._cleanup(name))
        for gone in set(self._types) - seen:
            del self._types[gone]
        self.registry.set_custom(served)

    def _served(self, crd: Object) -> list[ResourceType]:
        name = crd["metadata"]["name"]
        if not is_true(crd.get("status") or {}, "Established"):
            return []
        key = _serving_key(crd)
        cached = self._types.get(name)
        if cached is None or cached[0] != key:
            try:
                cached = (key, served_types(crd, CustomResourceStrategy))
            except Exception:  # noqa: BLE001 - one broken CRD must not stop the others
                log.exception("cannot serve %s", name)
                cached = (key, [])
            self._types[name] = cached
        return cached[1]

    def _update_status(self, crd: Object, crds: list[Object]) -> None:
        if crd["metadata"].get("deletionTimestamp"):
            return
        group = crd["spec"].get("group")
        peers = [c for c in crds if c["spec"].get("group") == group
                 and c["metadata"]["name"] != crd["metadata"]["name"]]
        status = next_status(crd, peers, rfc3339(now_utc()))
        if status != crd.get("status"):
            self._write_status(crd, status)
            crd["status"] = status

    def _write_status(self, crd: Object, status: Object) -> None:
        new = deep_copy(crd)
        new["status"] = status
        try:
            self.registry.writer.update(CUSTOMRESOURCEDEFINITIONS, new, crd, "status",
                                        WriteOptions())
        except errors.StatusError as exc:  # a concurrent write: the next sync retries
            log.debug("status of %s: %s", crd["metadata"]["name"], exc.message)

    async def _cleanup(self, name: str) -> None:
        try:
            while await self._cleanup_step(name):
                await asyncio.sleep(CLEANUP_POLL_SECONDS)
        finally:
            self._cleanups.pop(name, None)

    async def _cleanup_step(self, name: str) -> bool:
        """One round of deleting a CRD's instances; False when the CRD is done."""
        kv = self.registry.store.get(CRD_PREFIX + name)
        if kv is None:
            return False
        crd = decode(kv)
        established = is_true(crd.get("status") or {}, "Established")
        types = self._types.get(name, ((), []))[1]
        remaining = self._delete_instances(types[0]) if types else 0
        status = dict(crd.get("status") or {})
        now = rfc3339(now_utc())
        if remaining:
            set_condition(status, "Terminating", (
                "True", "InstanceDeletionInProgress", "CustomResource deletion is in progress"),
                now)
            if status != crd.get("status"):
                self._write_status(crd, status)
            return True
        done = ("False", "InstanceDeletionCompleted", "removed all instances") if established \
            else ("False", "NeverEstablished", "resource was never established")
        set_condition(status, "Terminating", done, now)
        new = deep_copy(crd)
        new["status"] = status
        new["metadata"]["finalizers"] = [
            f for f in crd["metadata"].get("finalizers") or [] if f != CLEANUP_FINALIZER]
        try:
            self.registry.writer.update(CUSTOMRESOURCEDEFINITIONS, new, crd, "", WriteOptions())
        except errors.StatusError as exc:
            log.debug("finalizing %s: %s", name, exc.message)
            return True
        return False

    def _delete_instances(self, rt: ResourceType) -> int:
        """Delete every instance (DeleteCollection); how many are left (finalizers)."""
        listed = self.registry.store.range(prefix_for(rt, None))
        for kv in listed:
            meta = decode(kv)["metadata"]
            if meta.get("deletionTimestamp"):
                continue
            with contextlib.suppress(errors.StatusError):
                self.registry.delete(rt, meta.get("namespace", ""), meta["name"],
                                     DeleteOptions(propagation_policy="Background"))
        return len(self.registry.store.range(prefix_for(rt, None)))
