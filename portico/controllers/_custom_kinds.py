"""The kinds CustomResourceDefinitions add, as `Kind`s like the built-in ones.

The garbage collector and the namespace controller act on custom resources as on
built-in kinds: every Established CRD contributes one kind, for its preferred
served version (kube-aware order) and its accepted names.
"""

from __future__ import annotations

from collections.abc import Iterable

from portico.client import Obj
from portico.model.kinds import Kind, version_priority
from portico.model.vocabulary import ConditionStatus, CRDConditionType, ResourceScope


def _established(crd: Obj) -> bool:
    for cond in (crd.get("status") or {}).get("conditions") or []:
        if (cond.get("type") == CRDConditionType.ESTABLISHED
                and cond.get("status") == ConditionStatus.TRUE):
            return not (crd.get("metadata") or {}).get("deletionTimestamp")
    return False


def custom_kinds(crds: Iterable[Obj], namespaced_only: bool = False) -> dict[str, Kind]:
    """CRD name -> the kind of its preferred served version."""
    out: dict[str, Kind] = {}
    for crd in crds:
        spec = crd.get("spec") or {}
        names = (crd.get("status") or {}).get("acceptedNames") or {}
        served = [v["name"] for v in spec.get("versions") or [] if v.get("served")]
        if not _established(crd) or not served or not names.get("kind"):
            continue
        namespaced = spec.get("scope") == ResourceScope.NAMESPACED
        if namespaced_only and not namespaced:
            continue
        version = sorted(served, key=version_priority)[0]
        out[crd["metadata"]["name"]] = Kind.of_crd(crd, version)
    return out
