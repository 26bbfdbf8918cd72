"""The lightkube resource classes the controllers act on."""

from __future__ import annotations

from lightkube.generic_resource import create_namespaced_resource
from lightkube.resources import (
    apps_v1,
    autoscaling_v2,
    batch_v1,
    coordination_v1,
    core_v1,
    discovery_v1,
    networking_v1,
    policy_v1,
    rbac_authorization_v1,
)

# metrics.k8s.io (written by the agents): owned by their Pod
PodMetrics = create_namespaced_resource("metrics.k8s.io", "v1beta1", "PodMetrics", "pods")

# Every namespaced kind the API server serves, in the order the namespace
# controller empties a namespace (workloads first so they stop recreating pods).
NAMESPACED_KINDS: tuple[type, ...] = (
    batch_v1.CronJob, batch_v1.Job, apps_v1.Deployment, apps_v1.StatefulSet, apps_v1.DaemonSet,
    apps_v1.ReplicaSet, core_v1.ReplicationController, apps_v1.ControllerRevision, core_v1.Pod,
    core_v1.Service, core_v1.Endpoints,
    discovery_v1.EndpointSlice, networking_v1.Ingress, core_v1.ConfigMap, core_v1.Secret,
    core_v1.ServiceAccount, core_v1.Event, coordination_v1.Lease,
    core_v1.PersistentVolumeClaim, policy_v1.PodDisruptionBudget,
    autoscaling_v2.HorizontalPodAutoscaler, PodMetrics,
    rbac_authorization_v1.RoleBinding, rbac_authorization_v1.Role,
)

# Kinds that own others or are owned (ownerReferences), for the garbage collector.
OWNED_KINDS: tuple[type, ...] = (
    batch_v1.CronJob, batch_v1.Job, apps_v1.Deployment, apps_v1.StatefulSet, apps_v1.DaemonSet,
    apps_v1.ReplicaSet, core_v1.ReplicationController, apps_v1.ControllerRevision, core_v1.Pod,
    core_v1.Service, core_v1.Endpoints,
    discovery_v1.EndpointSlice, core_v1.ConfigMap, core_v1.Secret, networking_v1.Ingress,
    coordination_v1.Lease, core_v1.Node, core_v1.PersistentVolumeClaim, PodMetrics,
    # what the Gateway API controller provisions per Gateway, owned by the Gateway
    core_v1.ServiceAccount, policy_v1.PodDisruptionBudget,
    autoscaling_v2.HorizontalPodAutoscaler,
)
