"""kube-scheduler's VolumeBinding plugin, reduced to what Portico's storage needs (pure).

`claims_of(pod, claims, volumes, classes)` looks at the pod's
`persistentVolumeClaim` volumes:
- a claim that does not exist makes the pod unschedulable
  (`persistentvolumeclaim "data" not found`), as does an unbound claim whose class
  binds immediately (`pod has unbound immediate PersistentVolumeClaims`);
- a bound claim restricts the nodes to those its PV's `nodeAffinity` selects
  (`node(s) had volume node affinity conflict` for the others);
- an unbound claim of a `WaitForFirstConsumer` class is to be provisioned on the
  node the pod is placed on: the scheduler writes that node into the claim's
  `volume.kubernetes.io/selected-node` annotation and binds the pod once the claim is
  bound (kube's PreBind).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from portico.controllers._placement import matches_node

Obj = dict[str, Any]
NOT_FOUND = 'persistentvolumeclaim "{name}" not found'
UNBOUND_IMMEDIATE = "pod has unbound immediate PersistentVolumeClaims"
AFFINITY_CONFLICT = "node(s) had volume node affinity conflict"
SELECTED_NODE = "volume.kubernetes.io/selected-node"


@dataclass(frozen=True)
class ClaimPlan:
    error: str = ""  # the pod cannot be scheduled at all
    bound_volumes: list[Obj] = field(default_factory=list)
    to_provision: list[Obj] = field(default_factory=list)  # WaitForFirstConsumer claims

    def node_reason(self, node: Obj) -> str | None:
        """Why `node` cannot take the pod's bound volumes, or None."""
        for volume in self.bound_volumes:
            required = ((volume.get("spec") or {}).get("nodeAffinity") or {}).get("required")
            probe = {"spec": {"affinity": {"nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": required}}}}
            if required and not matches_node(probe, node):
                return AFFINITY_CONFLICT
        return None


def claim_names(pod: Obj) -> list[str]:
    return [str(v["persistentVolumeClaim"].get("claimName", ""))
            for v in (pod.get("spec") or {}).get("volumes") or []
            if isinstance(v.get("persistentVolumeClaim"), dict)]


def claims_of(pod: Obj, claims: Mapping[str, Obj], volumes: Mapping[str, Obj],
              classes: Mapping[str, Obj]) -> ClaimPlan:
    """The pod's claims as the scheduler sees them (keys `<ns>/<name>`, PV and class names)."""
    namespace = (pod.get("metadata") or {}).get("namespace", "")
    bound, waiting = [], []
    for name in claim_names(pod):
        claim = claims.get(f"{namespace}/{name}")
        if claim is None:
            return ClaimPlan(error=NOT_FOUND.format(name=name))
        volume_name = (claim.get("spec") or {}).get("volumeName")
        if volume_name and volume_name in volumes:
            bound.append(volumes[volume_name])
            continue
        class_name = (claim.get("spec") or {}).get("storageClassName") or ""
        mode = (classes.get(class_name) or {}).get("volumeBindingMode")
        if mode != "WaitForFirstConsumer":
            return ClaimPlan(error=UNBOUND_IMMEDIATE)
        waiting.append(claim)
    return ClaimPlan(bound_volumes=bound, to_provision=waiting)
