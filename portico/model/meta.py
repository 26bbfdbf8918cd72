"""`metav1` views: `ObjectMeta`, `OwnerReference`, conditions, and custom objects.

Theory of operation
-------------------
A view is a frozen dataclass parsed once from an object's JSON (`from_obj`), at the
boundary where the object enters a component; the component then reads typed
attributes instead of chains of `.get(...) or {}`.  Parsing never raises: what the
API may leave out reads as the zero value (`""`, `0`, `()`, `{}`) or as `None` where
absence means something (`deletionTimestamp`, `controller`), see `_parse`.

Maps (labels, annotations, raw spec) are copied into new dicts and kept out of the
hash, so views stay hashable; treat them as read-only.  `CustomObject` is the view of
any object of the common shape (apiVersion, kind, metadata, spec, status), for custom
resources whose schema Portico does not know.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from portico.model._parse import (
    JSONObject,
    bool_of,
    enum_of,
    int_of,
    labels_of,
    obj_of,
    objs_of,
    opt_str_of,
    str_of,
    strs_of,
)
from portico.model.vocabulary import ConditionStatus

__all__ = ["Condition", "CustomObject", "ObjectMeta", "OwnerReference", "conditions_of"]


@dataclass(frozen=True, slots=True)
class OwnerReference:
    """`metadata.ownerReferences[]`."""

    api_version: str
    kind: str
    name: str
    uid: str
    controller: bool = False
    block_owner_deletion: bool = False

    @classmethod
    def from_obj(cls, obj: JSONObject) -> OwnerReference:
        return cls(api_version=str_of(obj.get("apiVersion")), kind=str_of(obj.get("kind")),
                   name=str_of(obj.get("name")), uid=str_of(obj.get("uid")),
                   controller=bool_of(obj.get("controller")),
                   block_owner_deletion=bool_of(obj.get("blockOwnerDeletion")))


@dataclass(frozen=True, slots=True)
class ObjectMeta:
    """`metadata`; `namespace` is `""` for cluster-scoped objects."""

    name: str = ""
    namespace: str = ""
    uid: str = ""
    labels: dict[str, str] = field(default_factory=dict, hash=False)
    annotations: dict[str, str] = field(default_factory=dict, hash=False)
    resource_version: str = ""
    generation: int = 0
    creation_timestamp: str = ""
    deletion_timestamp: str | None = None
    owner_references: tuple[OwnerReference, ...] = ()
    finalizers: tuple[str, ...] = ()

    @classmethod
    def from_obj(cls, obj: JSONObject) -> ObjectMeta:
        """The view of `obj["metadata"]` (pass the whole object)."""
        meta = obj_of(obj.get("metadata"))
        return cls(
            name=str_of(meta.get("name")), namespace=str_of(meta.get("namespace")),
            uid=str_of(meta.get("uid")), labels=labels_of(meta.get("labels")),
            annotations=labels_of(meta.get("annotations")),
            resource_version=str_of(meta.get("resourceVersion")),
            generation=int_of(meta.get("generation")),
            creation_timestamp=str_of(meta.get("creationTimestamp")),
            deletion_timestamp=opt_str_of(meta.get("deletionTimestamp")),
            owner_references=tuple(OwnerReference.from_obj(ref)
                                   for ref in objs_of(meta.get("ownerReferences"))),
            finalizers=strs_of(meta.get("finalizers")),
        )

    @property
    def key(self) -> str:
        """`namespace/name` (an informer's key), or `name` when cluster-scoped."""
        return f"{self.namespace}/{self.name}" if self.namespace else self.name

    @property
    def deleting(self) -> bool:
        return self.deletion_timestamp is not None

    def controller_ref(self) -> OwnerReference | None:
        """`metav1.GetControllerOf`: the owner reference with `controller: true`."""
        return next((ref for ref in self.owner_references if ref.controller), None)


@dataclass(frozen=True, slots=True)
class Condition:
    """One entry of `status.conditions` (Pod, Node, or `metav1.Condition`)."""

    type: str
    status: ConditionStatus = ConditionStatus.UNKNOWN
    reason: str = ""
    message: str = ""
    last_transition_time: str = ""

    @classmethod
    def from_obj(cls, obj: JSONObject) -> Condition:
        return cls(type=str_of(obj.get("type")),
                   status=enum_of(ConditionStatus, obj.get("status"), ConditionStatus.UNKNOWN),
                   reason=str_of(obj.get("reason")), message=str_of(obj.get("message")),
                   last_transition_time=str_of(obj.get("lastTransitionTime")))

    @property
    def true(self) -> bool:
        return self.status is ConditionStatus.TRUE


def conditions_of(status: JSONObject) -> tuple[Condition, ...]:
    """The conditions of a `status` object, in the order the API lists them."""
    return tuple(Condition.from_obj(c) for c in objs_of(status.get("conditions")))


@dataclass(frozen=True, slots=True)
class CustomObject:
    """Any object of the common shape; `spec` and `status` stay raw (read-only)."""

    api_version: str
    kind: str
    metadata: ObjectMeta
    spec: JSONObject = field(default_factory=dict, hash=False)
    status: JSONObject = field(default_factory=dict, hash=False)

    @classmethod
    def from_obj(cls, obj: JSONObject) -> CustomObject:
        return cls(api_version=str_of(obj.get("apiVersion")), kind=str_of(obj.get("kind")),
                   metadata=ObjectMeta.from_obj(obj), spec=dict(obj_of(obj.get("spec"))),
                   status=dict(obj_of(obj.get("status"))))

    @property
    def group(self) -> str:
        """The API group of `apiVersion` (`""` for the core group)."""
        return self.api_version.rpartition("/")[0]

    @property
    def version(self) -> str:
        return self.api_version.rpartition("/")[2]
