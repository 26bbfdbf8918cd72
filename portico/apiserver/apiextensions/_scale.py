"""The `/scale` subresource of custom resources (autoscaling/v1 Scale over the CRD's paths).

`specReplicasPath` (under `.spec`), `statusReplicasPath` (under `.status`; 0 when
absent) and the optional `labelSelectorPath` (a string selector) map a custom
resource onto a Scale; an update writes `spec.replicas` back at its path.
"""

from __future__ import annotations

from typing import Any

from portico.apiserver import errors
from portico.apiserver.apiextensions._jsonpath import compile_path
from portico.apiserver.apiextensions._kinds import ScalePaths
from portico.apiserver.resources._base import Object


def _first(path: str, obj: Object) -> Any:
    if not path:
        return None
    found = compile_path(path).find(obj)
    return found[0] if found else None


def to_scale(paths: ScalePaths, obj: Object) -> Object:
    replicas = _first(paths.spec_replicas, obj)
    if replicas is None:
        raise errors.internal(f'the spec replicas field "{paths.spec_replicas}" does not exist')
    selector = _first(paths.label_selector, obj)
    meta = obj["metadata"]
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion",
                                           "creationTimestamp") if k in meta},
        "spec": {"replicas": replicas},
        "status": {"replicas": _first(paths.status_replicas, obj) or 0,
                   "selector": selector if isinstance(selector, str) else ""},
    }


def set_replicas(paths: ScalePaths, obj: Object, replicas: int) -> None:
    """Write `replicas` at the spec replicas path (a chain of field names)."""
    steps = [s.name for s in compile_path(paths.spec_replicas).steps]
    node = obj
    for step in steps[:-1]:
        node = node.setdefault(step, {})
    node[steps[-1]] = replicas
