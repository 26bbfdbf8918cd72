"""The generic store of kube-apiserver: every verb for every kind, over one `SqliteStore`.

Patches read the live object, compute the patched one, and write it back with
the live resourceVersion as precondition; a concurrent write makes the patch
start over (as `GuaranteedUpdate` does), so patches never fail with Conflict
unless the client asked for a specific resourceVersion.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from portico.apiserver import errors
from portico.apiserver.openapi import check_fields
from portico.apiserver.patch import (
    apply_patch,
    json_patch,
    merge_patch,
    strategic_merge_patch,
    update_managed_fields,
)
from portico.apiserver.registry._objects import deep_copy
from portico.apiserver.registry._read import ListOptions, ListResult, Reader
from portico.apiserver.registry._write import WriteOptions, Writer, admission_request
from portico.apiserver.resources._base import Object, ResourceType
from portico.apiserver.resources._printers import now_utc, rfc3339
from portico.apiserver.schema import Definitions
from portico.model.vocabulary import PodPhase
from portico.store import SqliteStore


class PatchType:
    JSON = "application/json-patch+json"
    MERGE = "application/merge-patch+json"
    STRATEGIC = "application/strategic-merge-patch+json"
    APPLY = "application/apply-patch+yaml"
    APPLY_CBOR = "application/apply-patch+cbor"


PATCH_TYPES = (PatchType.JSON, PatchType.MERGE, PatchType.STRATEGIC, PatchType.APPLY)


@dataclass(frozen=True)
class DeleteOptions:
    propagation_policy: str = ""
    grace_period_seconds: int | None = None
    precondition_uid: str = ""
    precondition_resource_version: str = ""
    dry_run: bool = False


@dataclass(frozen=True)
class DeleteResult:
    object: Object
    deleted: bool  # False: still there (finalizers or graceful deletion)


_MAX_PATCH_ATTEMPTS = 8


def _decoded(rt: ResourceType, obj: Object, opts: WriteOptions,
             old: Object | None = None) -> Object:
    """`obj` as decoding it into the kind's Go type leaves it: type errors and (Strict)
    unknown or duplicate fields refused, unknown fields dropped, warnings noted (Warn);
    `old`: the stored object an update or patch starts from."""
    own = rt.strategy.unknown_fields(obj, opts.field_validation, opts.duplicate_fields)
    opts.warnings.extend(own if own is not None else check_fields(
        rt.gvk, obj, opts.field_validation, opts.duplicate_fields, old))
    return obj


def _managed(rt: ResourceType, old: Object | None, new: Object, opts: WriteOptions,
             subresource: str = "") -> Object:
    if not opts.field_manager:
        return new
    return update_managed_fields(old, new, opts.field_manager, "Update", rt.gvk,
                                 rfc3339(now_utc()), subresource, defs=_defs(rt))


def _defs(rt: ResourceType) -> Definitions | None:
    """The schema source of a custom kind for server-side apply (None: the built-in one)."""
    return rt.custom.definitions if rt.custom is not None else None


class Registry:
    def __init__(self, store: SqliteStore, resources: tuple[ResourceType, ...]) -> None:
        self.store = store
        self.builtin = resources
        self.custom: dict[tuple[str, str, str], ResourceType] = {}
        self.resources = resources
        self.reader = Reader(store)
        self.writer = Writer(store)

    def set_custom(self, types: list[ResourceType]) -> None:
        """Serve these custom kinds (every served version of every Established CRD)."""
        self.custom = {(rt.group, rt.version, rt.plural): rt for rt in types}
        self.resources = (*self.builtin, *types)

    def find(self, group: str, version: str, plural: str) -> ResourceType | None:
        for rt in self.builtin:
            if rt.group == group and rt.version == version and rt.plural == plural:
                return rt
        return self.custom.get((group, version, plural))

    # reads

    def get(self, rt: ResourceType, namespace: str, name: str) -> Object:
        return rt.strategy.read(self.reader.get(rt, namespace, name))

    def list(self, rt: ResourceType, namespace: str | None, opts: ListOptions) -> ListResult:
        return self.reader.list(rt, namespace, opts)

    # writes

    def create(self, rt: ResourceType, namespace: str, obj: Object, opts: WriteOptions) -> Object:
        obj = _managed(rt, None, _decoded(rt, obj, opts), opts)
        return rt.strategy.read(self.writer.create(rt, namespace, rt.strategy.to_storage(obj),
                                                   opts))

    def update(self, rt: ResourceType, namespace: str, name: str, obj: Object,
               subresource: str, opts: WriteOptions) -> Object:
        old = self.get(rt, namespace, name)
        body_name = obj.get("metadata", {}).get("name")
        if body_name and body_name != name:
            raise errors.bad_request(
                f"the name of the object ({body_name}) does not match the name on the URL "
                f"({name})")
        obj = _managed(rt, old, _decoded(rt, obj, opts, old), opts, subresource)
        return rt.strategy.read(self.writer.update(rt, rt.strategy.to_storage(obj),
                                                   rt.strategy.to_storage(old), subresource,
                                                   opts))

    def patch(self, rt: ResourceType, namespace: str, name: str, patch_type: str,
              body: Any, subresource: str, opts: WriteOptions) -> Object:
        for _ in range(_MAX_PATCH_ATTEMPTS):
            try:
                live = self.get(rt, namespace, name)
            except errors.StatusError as exc:
                if exc.code == 404 and patch_type == PatchType.APPLY and not subresource:
                    return self._apply_create(rt, namespace, name, body, opts)
                raise
            new = self._patched(rt, live, patch_type, body, subresource, opts)
            pinned = isinstance(body, dict) and body.get("metadata", {}).get("resourceVersion")
            if not pinned:
                new.setdefault("metadata", {})["resourceVersion"] = live["metadata"][
                    "resourceVersion"]
            try:
                return rt.strategy.read(self.writer.update(
                    rt, rt.strategy.to_storage(new), rt.strategy.to_storage(live), subresource,
                    opts))
            except errors.StatusError as exc:
                if exc.reason != "Conflict" or pinned:
                    raise
        raise errors.conflict(rt.plural, name, rt.group)

    def _apply_create(self, rt: ResourceType, namespace: str, name: str, body: Any,
                      opts: WriteOptions) -> Object:
        if not isinstance(body, dict):
            raise errors.bad_request("apply patch body must be an object")
        body = deep_copy(body)
        body.setdefault("metadata", {}).setdefault("name", name)
        obj = apply_patch(None, body, opts.field_manager, opts.force, rt.gvk,
                          rfc3339(now_utc()), default=rt.strategy.default, defs=_defs(rt))
        obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
        obj = rt.strategy.to_storage(_decoded(rt, obj, opts))
        return rt.strategy.read(self.writer.create(rt, namespace, obj, opts))

    def _patched(self, rt: ResourceType, live: Object, patch_type: str, body: Any,
                 subresource: str, opts: WriteOptions) -> Object:
        original = deep_copy(live)
        now = rfc3339(now_utc())
        if patch_type == PatchType.APPLY:
            if not isinstance(body, dict):
                raise errors.bad_request("apply patch body must be an object")
            return _decoded(rt, apply_patch(original, body, opts.field_manager, opts.force,
                                            rt.gvk, now, default=rt.strategy.default,
                                            defs=_defs(rt)), opts)
        if patch_type == PatchType.JSON:
            if not isinstance(body, list):
                raise errors.bad_request(
                    "json: cannot unmarshal object into Go value of type jsonpatch.Patch")
            new = json_patch(original, body)
        elif not isinstance(body, dict):
            raise errors.bad_request(
                "json: cannot unmarshal array into Go value of type map[string]interface {}")
        elif patch_type == PatchType.MERGE:
            new = merge_patch(original, body)
        else:
            new = strategic_merge_patch(original, body, rt.gvk)
        return _managed(rt, live, _decoded(rt, new, opts, live), opts, subresource)

    def delete(self, rt: ResourceType, namespace: str, name: str,
               opts: DeleteOptions) -> DeleteResult:
        live = self.get(rt, namespace, name)
        meta = live["metadata"]
        if opts.precondition_uid and opts.precondition_uid != meta.get("uid"):
            raise errors.conflict(
                rt.plural, name, rt.group,
                f"Precondition failed: UID in precondition: {opts.precondition_uid}, "
                f"UID in object meta: {meta.get('uid')}")
        if (opts.precondition_resource_version
                and opts.precondition_resource_version != meta["resourceVersion"]):
            raise errors.conflict(
                rt.plural, name, rt.group,
                "Precondition failed: ResourceVersion in precondition: "
                f"{opts.precondition_resource_version}, ResourceVersion in object meta: "
                f"{meta['resourceVersion']}")
        wopts = WriteOptions(dry_run=opts.dry_run)
        self.writer.admit(admission_request(rt, "DELETE", None, live, dry_run=opts.dry_run),
                          wopts)
        add: list[str] = []
        if opts.propagation_policy == "Foreground":
            add.append("foregroundDeletion")
        elif opts.propagation_policy == "Orphan":
            add.append("orphan")
        add.extend(rt.strategy.finalizers_on_delete(live))
        grace = self._grace(rt, live, opts)
        needs_wait = bool(add or meta.get("finalizers") or grace > 0 or rt.kind == "Namespace")
        if needs_wait:
            if meta.get("deletionTimestamp") and not add and grace >= int(
                    meta.get("deletionGracePeriodSeconds") or 0):
                return DeleteResult(live, False)
            marked = self.writer.mark_deleting(rt, rt.strategy.to_storage(live), grace, add,
                                               wopts)
            return DeleteResult(rt.strategy.read(marked), False)
        self.writer.remove(rt, live, wopts)
        return DeleteResult(live, True)

    @staticmethod
    def _grace(rt: ResourceType, live: Object, opts: DeleteOptions) -> int:
        """Pods bound to a node terminate gracefully; everything else goes at once."""
        if rt.kind != "Pod" or not live.get("spec", {}).get("nodeName"):
            return 0
        if live.get("status", {}).get("phase") in (PodPhase.SUCCEEDED, PodPhase.FAILED):
            return 0
        if opts.grace_period_seconds is not None:
            return max(0, opts.grace_period_seconds)
        return int(live.get("spec", {}).get("terminationGracePeriodSeconds", 30))
