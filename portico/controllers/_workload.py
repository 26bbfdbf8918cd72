"""What the StatefulSet, DaemonSet, Job and CronJob controllers share around their syncs.

- `enqueue_current(queue)`: an informer handler that queues the key of the object
  that changed, unless it was deleted;
- `enqueue_owner(queue, kind)`: an informer handler that queues the controller owner
  (of `kind`) of the object that changed, before and after the change;
- `controlled_by(objects, owner)`: the objects whose controllerRef is `owner`;
- `write_status(...)`: a merge patch of the status subresource when any field
  differs from the cached object, written through to the cache; an owner deleted
  meanwhile (404) is not an error;
- `slow_start(calls)`: kube's `slowStartBatch` for pod creations (the ReplicaSet
  controller's too): batches of 1, 2, 4, ... run concurrently, stopping at the first
  batch with a failure, so a quota or admission refusal costs one call, not hundreds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from portico.client import Api, ApiError, Handler, Informer, Obj, PatchType, WorkQueue, key_of
from portico.controllers._pods import controller_ref, meta
from portico.model.kinds import Kind


def enqueue_current(queue: WorkQueue) -> Handler:
    def handle(_previous: Obj | None, current: Obj | None) -> None:
        if current is not None:
            queue.add(key_of(current))

    return handle


def enqueue_owner(queue: WorkQueue, kind: str) -> Handler:
    def handle(previous: Obj | None, current: Obj | None) -> None:
        for obj in (previous, current):
            ref = controller_ref(obj) if obj is not None else None
            if obj is not None and ref is not None and ref.get("kind") == kind:
                queue.add(f"{meta(obj)['namespace']}/{ref['name']}")

    return handle


def controlled_by(objects: list[Obj], owner: Obj) -> list[Obj]:
    uid = meta(owner).get("uid")
    return [o for o in objects if (controller_ref(o) or {}).get("uid") == uid]


async def write_status(client: Api, kind: Kind, informer: Informer, obj: Obj,
                       status: Obj) -> bool:
    """Patch `status` onto `obj` if it changes anything; True when written."""
    current = obj.get("status") or {}
    if all(current.get(k) == v for k, v in status.items()):
        return False
    try:
        updated = await client.patch(kind.status, meta(obj)["name"], {"status": status},
                                     namespace=meta(obj)["namespace"],
                                     patch_type=PatchType.MERGE)
    except ApiError as exc:
        if exc.status.code != 404:
            raise
        return False
    informer.assume(updated)
    return True


async def slow_start(calls: Sequence[Callable[[], Awaitable[object]]]) -> None:
    """Run `calls` in concurrent batches of 1, 2, 4, ...; raise a failed batch's first error."""
    done, batch = 0, 1
    while done < len(calls):
        group = calls[done:done + batch]
        results = await asyncio.gather(*(call() for call in group), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise errors[0]
        done += len(group)
        batch *= 2
