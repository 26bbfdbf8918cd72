"""The lightkube resource classes the controllers act on."""

from __future__ import annotations

from lightkube.resources import (
    apps_v1,
    coordination_v1,
    core_v1,
    discovery_v1,
    networking_v1,
    rbac_authorization_v1,
)

# Every namespaced kind the API server serves, in the order the namespace
# controller empties a namespace (workloads first so they stop recreating pods).
NAMESPACED_KINDS: tuple[type, ...] = (
    apps_v1.Deployment, apps_v1.ReplicaSet, core_v1.Pod, core_v1.Service, core_v1.Endpoints,
    discovery_v1.EndpointSlice, networking_v1.Ingress, core_v1.ConfigMap, core_v1.Secret,
    core_v1.ServiceAccount, core_v1.Event, coordination_v1.Lease,
    rbac_authorization_v1.RoleBinding, rbac_authorization_v1.Role,
)

# Kinds that own others or are owned (ownerReferences), for the garbage collector.
OWNED_KINDS: tuple[type, ...] = (
    apps_v1.Deployment, apps_v1.ReplicaSet, core_v1.Pod, core_v1.Service, core_v1.Endpoints,
    discovery_v1.EndpointSlice, core_v1.ConfigMap, core_v1.Secret, networking_v1.Ingress,
    coordination_v1.Lease, core_v1.Node,
)
