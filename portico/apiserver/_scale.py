"""The `autoscaling/v1` Scale view of scalable kinds (the `/scale` subresource).

Deployments and ReplicaSets map `spec.replicas`, `status.replicas` and their label
selector; custom resources the paths their CRD declares (`apiextensions._scale`).
"""

from __future__ import annotations

from portico.apiserver import errors
from portico.apiserver.apiextensions import _scale as custom_scale
from portico.apiserver.registry._objects import deep_copy
from portico.apiserver.resources._base import Object, ResourceType
from portico.apiserver.selectors import selector_from_label_selector_object


def to_scale(rt: ResourceType, obj: Object) -> Object:
    """The autoscaling/v1 Scale view of a workload or custom resource (a
    ReplicationController's map selector is a LabelSelector's matchLabels)."""
    if rt.custom is not None:
        return custom_scale.to_scale(rt.custom.scale, obj)
    meta = obj["metadata"]
    selector = obj.get("spec", {}).get("selector")
    if rt.kind == "ReplicationController" and selector:
        selector = {"matchLabels": selector}
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion",
                                           "creationTimestamp") if k in meta},
        "spec": {"replicas": obj.get("spec", {}).get("replicas", 0)},
        "status": {
            "replicas": obj.get("status", {}).get("replicas", 0),
            "selector": str(selector_from_label_selector_object(selector)) if selector else "",
        },
    }


def from_scale(live: Object, scale: Object, rt: ResourceType | None = None) -> Object:
    """`live` with the replicas of an updated Scale (and its resourceVersion, if any)."""
    replicas = scale.get("spec", {}).get("replicas")
    if not isinstance(replicas, int) or replicas < 0:
        raise errors.invalid_object("Scale", live["metadata"]["name"], [
            errors.invalid("spec.replicas", replicas, "must be greater than or equal to 0")],
            "autoscaling")
    new = deep_copy(live)
    if rt is not None and rt.custom is not None:
        custom_scale.set_replicas(rt.custom.scale, new, replicas)
    else:
        new.setdefault("spec", {})["replicas"] = replicas
    rv = scale.get("metadata", {}).get("resourceVersion")
    if rv:
        new["metadata"]["resourceVersion"] = rv
    return new
