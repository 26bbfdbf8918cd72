"""What the workload controllers share around their syncs.

- `controlled_by(objects, owner)`: the objects whose controllerRef is `owner`;
- `patch_cached(...)` and `delete_cached(...)`: a write of an object an informer
  caches, written through to that cache (`assume`, `assume_deleted`) so the next
  sync does not act on the old state; an object deleted meanwhile (404) is not an
  error, only reported as False;
- `write_status(...)`: a merge patch of the status subresource when any field
  differs from the cached object (through `patch_cached`);
- `slow_start(calls)`: kube's `slowStartBatch` for pod creations (the ReplicaSet
  controller's too): batches of 1, 2, 4, ... run concurrently, stopping at the first
  batch with a failure, so a quota or admission refusal costs one call, not hundreds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from portico.client import Api, ApiError, CascadeType, Informer, Obj, PatchType, key_of
from portico.controllers._pods import controller_ref, meta
from portico.model.kinds import Kind


def controlled_by(objects: list[Obj], owner: Obj) -> list[Obj]:
    uid = meta(owner).get("uid")
    return [o for o in objects if (controller_ref(o) or {}).get("uid") == uid]


async def patch_cached(client: Api, kind: Kind, informer: Informer, obj: Obj, patch: Obj,
                       patch_type: PatchType = PatchType.MERGE) -> bool:
    """Patch `obj` through `kind` (the kind itself or a subresource such as its status)
    and put the result in `informer`'s cache; False when `obj` is gone."""
    try:
        updated = await client.patch(kind, meta(obj)["name"], patch,
                                     namespace=meta(obj).get("namespace"),
                                     patch_type=patch_type)
    except ApiError as exc:
        if exc.status.code != 404:
            raise
        return False
    informer.assume(updated)
    return True


async def delete_cached(client: Api, kind: Kind, informer: Informer, obj: Obj,
                        cascade: CascadeType | None = None) -> bool:
    """Delete `obj` and drop it from `informer`'s cache; False when it was gone already."""
    deleted = True
    try:
        await client.delete(kind, meta(obj)["name"], namespace=meta(obj).get("namespace"),
                            cascade=cascade)
    except ApiError as exc:
        if exc.status.code != 404:
            raise
        deleted = False
    informer.assume_deleted(key_of(obj))
    return deleted


async def write_status(client: Api, kind: Kind, informer: Informer, obj: Obj,
                       status: Obj) -> bool:
    """Patch `status` onto `obj` if it changes anything; True when written."""
    current = obj.get("status") or {}
    if all(current.get(k) == v for k, v in status.items()):
        return False
    return await patch_cached(client, kind.status, informer, obj, {"status": status})


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
