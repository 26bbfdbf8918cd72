"""ControllerRevisions: the template history of StatefulSets and DaemonSets.

As `pkg/controller/history` and the two controllers' `getPatch` do, a revision's
`data` is the strategic merge patch `{"spec": {"template": {..., "$patch":
"replace"}}}` that puts its template back; `kubectl rollout undo` applies exactly
that patch to the owner. A revision is named `<owner>-<hash of data>` (the
collision count is hashed in when a name is taken by different data; a taken name
holding the same data under the same owner is that revision, not yet in the cache)
and numbered one past the highest of the owner's revisions; when the owner's
template returns to an older revision's (an undo), that revision is renumbered to
the top instead of a new one being made. `truncate` deletes the oldest revisions beyond
`revisionHistoryLimit` that no live pod uses.
"""

from __future__ import annotations

import copy

from portico.client import Api, ApiError, Informer, Obj, PatchType
from portico.controllers._pods import meta, owner_reference
from portico.controllers._rollout import template_hash
from portico.controllers._workload import controlled_by, delete_cached
from portico.model.kinds import CONTROLLER_REVISION, Kind

PATCH = "$patch"


def revision_data(template: Obj) -> Obj:
    return {"spec": {"template": dict(copy.deepcopy(template), **{PATCH: "replace"})}}


def template_of(revision: Obj) -> Obj:
    template = dict(((revision.get("data") or {}).get("spec") or {}).get("template") or {})
    template.pop(PATCH, None)
    return template


def number(revision: Obj) -> int:
    return int(revision.get("revision") or 0)


def newest_first(revisions: list[Obj]) -> list[Obj]:
    return sorted(revisions, key=number, reverse=True)


class History:
    def __init__(self, client: Api, revisions: Informer, owner_kind: Kind) -> None:
        self.client = client
        self.revisions = revisions
        self.owner_kind = owner_kind

    def owned(self, owner: Obj) -> list[Obj]:
        return controlled_by(self.revisions.list(meta(owner)["namespace"]), owner)

    async def ensure(self, owner: Obj, template: Obj, labels: dict[str, str],
                     collision_count: int = 0) -> Obj:
        """The revision of `template`, created or renumbered to be the newest."""
        data = revision_data(template)
        owned = self.owned(owner)
        top = max((number(r) for r in owned), default=0)
        for revision in newest_first(owned):
            if revision.get("data") == data:
                if number(revision) == top:
                    return revision
                return await self._renumber(revision, top + 1)
        name = f"{meta(owner)['name']}-{template_hash(data, collision_count)}"
        body = {
            "apiVersion": "apps/v1", "kind": "ControllerRevision",
            "metadata": {"name": name, "namespace": meta(owner)["namespace"],
                         "labels": dict(labels),
                         "ownerReferences": [owner_reference(owner, self.owner_kind)]},
            "data": data, "revision": top + 1,
        }
        try:
            created = await self.client.create(CONTROLLER_REVISION, body,
                                               namespace=meta(owner)["namespace"])
        except ApiError as exc:
            if exc.status.code != 409:
                raise
            existing = await self.client.get(CONTROLLER_REVISION, name,
                                             namespace=meta(owner)["namespace"])
            if existing.get("data") == data and controlled_by([existing], owner):
                self.revisions.assume(existing)  # ours, not yet seen by the informer
                return existing
            return await self.ensure(owner, template, labels, collision_count + 1)
        self.revisions.assume(created)
        return created

    async def _renumber(self, revision: Obj, value: int) -> Obj:
        updated = await self.client.patch(
            CONTROLLER_REVISION, meta(revision)["name"], {"revision": value},
            namespace=meta(revision)["namespace"], patch_type=PatchType.MERGE)
        self.revisions.assume(updated)
        return updated

    async def truncate(self, owner: Obj, in_use: set[str], limit: int) -> None:
        idle = [r for r in self.owned(owner) if meta(r)["name"] not in in_use]
        excess = len(idle) - limit
        for revision in sorted(idle, key=number)[:max(excess, 0)]:
            await delete_cached(self.client, CONTROLLER_REVISION, self.revisions, revision)
