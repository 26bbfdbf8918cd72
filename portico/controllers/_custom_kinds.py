"""The kinds CustomResourceDefinitions add, as lightkube generic resource classes.

The garbage collector and the namespace controller act on custom resources as on
built-in kinds: every Established CRD contributes one class, for its preferred
served version (kube-aware order) and its accepted names.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

from lightkube import generic_resource

from portico.apiserver._discovery import version_priority
from portico.client import Obj
from portico.model.vocabulary import ConditionStatus, CRDConditionType, ResourceScope


def _established(crd: Obj) -> bool:
    for cond in (crd.get("status") or {}).get("conditions") or []:
        if (cond.get("type") == CRDConditionType.ESTABLISHED
                and cond.get("status") == ConditionStatus.TRUE):
            return not (crd.get("metadata") or {}).get("deletionTimestamp")
    return False


def custom_kinds(crds: Iterable[Obj], namespaced_only: bool = False) -> dict[str, type]:
    """CRD name -> the generic resource class of its preferred served version."""
    out: dict[str, type] = {}
    for crd in crds:
        spec = crd.get("spec") or {}
        names = (crd.get("status") or {}).get("acceptedNames") or {}
        served = [v["name"] for v in spec.get("versions") or [] if v.get("served")]
        if not _established(crd) or not served or not names.get("kind"):
            continue
        namespaced = spec.get("scope") == ResourceScope.NAMESPACED
        if namespaced_only and not namespaced:
            continue
        make = (generic_resource.create_namespaced_resource if namespaced
                else generic_resource.create_global_resource)
        version = sorted(served, key=version_priority)[0]
        with contextlib.suppress(ValueError):  # the same kind already made with other names
            out[crd["metadata"]["name"]] = make(spec["group"], version, names["kind"],
                                                names["plural"])
    return out
