"""Create, update and delete for every kind, in kube-apiserver's order of hooks.

Each write is one store transaction: the kind's allocations (`Strategy.allocate`)
and the object itself commit together or not at all. A dry run goes through
every step and rolls the transaction back at the end.
"""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import Iterator
from dataclasses import dataclass, field

from portico.apiserver import errors
from portico.apiserver.admission import AdmissionRequest, PolicyAdmission
from portico.apiserver.registry._objects import (
    decode,
    deep_copy,
    encode,
    generate_name,
    new_uid,
    object_key,
    spec_of,
)
from portico.apiserver.resources._base import Object, ResourceType
from portico.apiserver.resources._meta import validate_object_meta, validate_object_meta_update
from portico.apiserver.resources._printers import now_utc, rfc3339
from portico.store import KeyExists, KeyNotFound, RevisionMismatch, SqliteStore, Txn

MAX_OBJECT_BYTES = 1536 * 1024  # etcd's default --max-request-bytes


def object_too_large() -> errors.StatusError:
    """What kube-apiserver passes on when etcd refuses a request over 1.5 MiB: a plain 500."""
    return errors.StatusError(500, "", "etcdserver: request is too large")


def _stored(obj: Object) -> bytes:
    """The bytes to store, refused as etcd refuses a request over its limit."""
    data = encode(obj)
    if len(data) > MAX_OBJECT_BYTES:
        raise object_too_large()
    return data


class DryRunRollback(Exception):
    """Raised at the end of a dry-run write so the transaction rolls back."""


@dataclass(frozen=True)
class WriteOptions:
    dry_run: bool = False
    field_manager: str = ""
    field_validation: str = ""
    force: bool = False
    # keys the JSON body repeated (`metadata.name`): strict decoding errors like unknown fields
    duplicate_fields: tuple[str, ...] = ()
    # filled in by the write: warnings for the `Warning` response header
    warnings: list[str] = field(default_factory=list)


class TxnContext:
    """Adapts a store `Txn` to the `WriteContext` that strategies allocate through."""

    def __init__(self, txn: Txn) -> None:
        self._txn = txn

    def get(self, key: str) -> bytes | None:
        kv = self._txn.get(key)
        return kv.value if kv else None

    def put(self, key: str, value: bytes) -> None:
        self._txn.put(key, value)

    def delete(self, key: str) -> None:
        with contextlib.suppress(KeyNotFound):
            self._txn.delete(key)

    def keys(self, prefix: str) -> list[str]:
        return self._txn.keys(prefix)


def _raise_invalid(rt: ResourceType, obj: Object, errs: list[errors.FieldError]) -> None:
    if errs:
        name = obj.get("metadata", {}).get("name", "")
        raise errors.invalid_object(rt.kind, name, errs, rt.group)


def _unchanged(new: Object, old: Object) -> bool:
    """Equal but for the resourceVersion and managedFields timestamps."""
    def comparable(obj: Object) -> Object:
        meta = dict(obj.get("metadata", {}))
        meta.pop("resourceVersion", None)
        fields = [{k: v for k, v in entry.items() if k != "time"}
                  for entry in meta.pop("managedFields", None) or []]
        return {**obj, "metadata": meta, "__fields": fields}

    return comparable(new) == comparable(old)


def admission_request(rt: ResourceType, operation: str, new: Object | None, old: Object | None,
                      subresource: str = "", dry_run: bool = False) -> AdmissionRequest:
    meta = (new if new is not None else old or {}).get("metadata", {})
    return AdmissionRequest(
        operation=operation, group=rt.group, version=rt.version, resource=rt.plural,
        kind=rt.kind, namespace=meta.get("namespace", "") if rt.namespaced else "",
        name=meta.get("name", ""), object=new, old_object=old, subresource=subresource,
        dry_run=dry_run)


class Writer:
    def __init__(self, store: SqliteStore) -> None:
        self.store = store
        self.admission = PolicyAdmission(store)

    def admit(self, request: AdmissionRequest, opts: WriteOptions) -> None:
        """Validating admission (ValidatingAdmissionPolicy): raises a denial, adds warnings."""
        opts.warnings.extend(self.admission.admit(request))

    @contextlib.contextmanager
    def _txn(self, dry_run: bool) -> Iterator[Txn]:
        try:
            with self.store.txn() as txn:
                yield txn
                if dry_run:
                    raise DryRunRollback
        except DryRunRollback:
            pass

    def _check_namespace(self, txn: Txn, rt: ResourceType, namespace: str, name: str) -> None:
        if not rt.namespaced:
            return
        kv = txn.get(f"/registry/core/namespaces/{namespace}")
        if kv is None:
            raise errors.not_found("namespaces", namespace)
        if decode(kv)["metadata"].get("deletionTimestamp"):
            resource = errors.qualified(rt.plural, rt.group)
            raise errors.StatusError(
                403, "Forbidden",
                f'{resource} "{name}" is forbidden: unable to create new content in namespace '
                f"{namespace} because it is being terminated",
                {"name": name, "kind": rt.plural},
            )

    def prepare_create(self, rt: ResourceType, namespace: str, obj: Object) -> Object:
        """Server-owned metadata, defaults and validation for a new object (no I/O)."""
        meta = obj.setdefault("metadata", {})
        if rt.namespaced:
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = generate_name(meta["generateName"])
        meta.pop("resourceVersion", None)
        meta["uid"] = new_uid()
        meta["creationTimestamp"] = rfc3339(now_utc())
        for transient in ("deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"):
            meta.pop(transient, None)
        if rt.generation:
            meta["generation"] = 1
        else:
            meta.pop("generation", None)
        rt.strategy.default(obj)
        rt.strategy.prepare_for_create(obj)
        errs = validate_object_meta(obj, rt.namespaced, rt.strategy.name_validation)
        errs += rt.strategy.validate(obj)
        _raise_invalid(rt, obj, errs)
        return obj

    def create(self, rt: ResourceType, namespace: str, obj: Object, opts: WriteOptions) -> Object:
        obj = self.prepare_create(rt, namespace, obj)
        opts.warnings.extend(rt.strategy.warnings(obj))
        self.admit(admission_request(rt, "CREATE", obj, None, dry_run=opts.dry_run), opts)
        name = obj["metadata"]["name"]
        result = obj
        with self._txn(opts.dry_run) as txn:
            self._check_namespace(txn, rt, namespace, name)
            rt.strategy.allocate(TxnContext(txn), obj, None)
            try:
                kv = txn.create(object_key(rt, namespace, name), _stored(obj))
            except KeyExists:
                raise errors.already_exists(rt.plural, name, rt.group) from None
            result = deep_copy(obj)
            result["metadata"]["resourceVersion"] = str(kv.mod_revision)
        return result

    def prepare_update(self, rt: ResourceType, new: Object, old: Object,
                       subresource: str) -> Object:
        """Carry server-owned metadata over, default, validate; returns the object to store."""
        meta = new.setdefault("metadata", {})
        old_meta = old["metadata"]
        for owned in ("uid", "creationTimestamp", "deletionTimestamp",
                      "deletionGracePeriodSeconds", "namespace"):
            if owned in old_meta:
                meta[owned] = old_meta[owned]
            else:
                meta.pop(owned, None)
        new["apiVersion"], new["kind"] = old.get("apiVersion"), old.get("kind")
        if subresource == "status":
            merged = deep_copy(old)
            merged["status"] = new.get("status", {})
            merged["metadata"]["managedFields"] = meta.get("managedFields",
                                                            old_meta.get("managedFields"))
            new = merged
        elif subresource == "finalize":
            merged = deep_copy(old)
            merged.setdefault("spec", {})["finalizers"] = new.get("spec", {}).get("finalizers")
            if not merged["spec"]["finalizers"]:
                merged["spec"].pop("finalizers")
            new = merged
        elif subresource == "binding":
            pass  # the binding handler sets the PodScheduled condition on the old status
        elif rt.has_status and "status" in old:
            new["status"] = old["status"]
        elif rt.has_status:
            new.pop("status", None)
        rt.strategy.default(new)
        if subresource not in ("status", "finalize", "binding"):
            rt.strategy.prepare_for_update(new, old)
        if rt.generation:
            generation = int(old_meta.get("generation", 1))
            # without a status subresource, status is part of what bumps it (custom kinds)
            if spec_of(new) != spec_of(old) or (
                    not rt.has_status and new.get("status") != old.get("status")):
                generation += 1
            new["metadata"]["generation"] = generation
        errs = validate_object_meta_update(new, old)
        errs += validate_object_meta(new, rt.namespaced, rt.strategy.name_validation)
        if subresource == "status":
            errs += rt.strategy.validate_status_update(new, old)
        elif subresource not in ("finalize", "binding"):
            errs += rt.strategy.validate_update(new, old)
        _raise_invalid(rt, new, errs)
        return new

    def update(
        self, rt: ResourceType, new: Object, old: Object, subresource: str, opts: WriteOptions,
    ) -> Object:
        """Compare-and-swap `new` over `old` (whose resourceVersion is the precondition)."""
        meta = old["metadata"]
        key = object_key(rt, meta.get("namespace", ""), meta["name"])
        requested = new.get("metadata", {}).get("resourceVersion")
        if requested and requested != meta["resourceVersion"]:
            raise errors.conflict(rt.plural, meta["name"], rt.group)
        new = self.prepare_update(rt, new, old, subresource)
        opts.warnings.extend(rt.strategy.warnings(new))
        self.admit(admission_request(rt, "UPDATE", new, old, subresource, opts.dry_run), opts)
        expect = int(meta["resourceVersion"])
        if _unchanged(new, old):
            return old  # kube-apiserver skips writes that change nothing (same resourceVersion)
        result = new
        with self._txn(opts.dry_run) as txn:
            if self._finalized(new, old):
                rt.strategy.release(TxnContext(txn), old)
                self._delete_key(txn, rt, key, expect, meta["name"])
                result = deep_copy(new)
                return result
            if subresource != "status":
                rt.strategy.allocate(TxnContext(txn), new, old)
            try:
                kv = txn.update(key, _stored(new), expect)
            except RevisionMismatch:
                raise errors.conflict(rt.plural, meta["name"], rt.group) from None
            except KeyNotFound:
                raise errors.not_found(rt.plural, meta["name"], rt.group) from None
            result = deep_copy(new)
            result["metadata"]["resourceVersion"] = str(kv.mod_revision)
        return result

    @staticmethod
    def _finalized(obj: Object, old: Object) -> bool:
        """An object being deleted whose last finalizer is gone is removed, not updated —
        unless it is in its grace period (a pod still terminating): `ShouldDeleteDuringUpdate`."""
        meta = obj["metadata"]
        if not meta.get("deletionTimestamp") or meta.get("finalizers"):
            return False
        if old["metadata"].get("deletionGracePeriodSeconds"):
            return False
        return not (obj.get("kind") == "Namespace" and obj.get("spec", {}).get("finalizers"))

    def _delete_key(self, txn: Txn, rt: ResourceType, key: str, expect: int | None,
                    name: str) -> None:
        try:
            txn.delete(key, expect)
        except RevisionMismatch:
            raise errors.conflict(rt.plural, name, rt.group) from None
        except KeyNotFound:
            raise errors.not_found(rt.plural, name, rt.group) from None

    def remove(self, rt: ResourceType, old: Object, opts: WriteOptions) -> None:
        """Delete the object now, releasing what it allocated, in one transaction."""
        meta = old["metadata"]
        key = object_key(rt, meta.get("namespace", ""), meta["name"])
        with self._txn(opts.dry_run) as txn:
            rt.strategy.release(TxnContext(txn), old)
            self._delete_key(txn, rt, key, int(meta["resourceVersion"]), meta["name"])

    def mark_deleting(self, rt: ResourceType, old: Object, grace: int,
                      add_finalizers: list[str], opts: WriteOptions) -> Object:
        """Graceful deletion: set deletionTimestamp (and finalizers) and keep the object."""
        new = deep_copy(old)
        meta = new["metadata"]
        if not meta.get("deletionTimestamp"):
            when = now_utc() + datetime.timedelta(seconds=grace)
            meta["deletionTimestamp"] = rfc3339(when)
            meta["deletionGracePeriodSeconds"] = grace
        elif grace < int(meta.get("deletionGracePeriodSeconds", grace)):
            meta["deletionGracePeriodSeconds"] = grace
        finalizers = list(meta.get("finalizers") or [])
        for fin in add_finalizers:
            if fin not in finalizers:
                finalizers.append(fin)
        if finalizers:
            meta["finalizers"] = finalizers
        if rt.kind == "Namespace":
            new.setdefault("status", {})["phase"] = "Terminating"
        key = object_key(rt, meta.get("namespace", ""), meta["name"])
        result = new
        with self._txn(opts.dry_run) as txn:
            try:
                kv = txn.update(key, encode(new), int(old["metadata"]["resourceVersion"]))
            except RevisionMismatch:
                raise errors.conflict(rt.plural, meta["name"], rt.group) from None
            result = deep_copy(new)
            result["metadata"]["resourceVersion"] = str(kv.mod_revision)
        return result
