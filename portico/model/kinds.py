"""What names a kind of object: group, version, kind, its resource and scope.

`GroupVersionKind` and `GroupVersionResource` are apimachinery's schema types.
`Kind` is what a client needs to reach a kind over REST: its GVK, the plural
resource name of its URL path, whether it is namespaced, and (for the status,
scale, binding or eviction of an object) the subresource. Custom resources get a
`Kind` of exactly the same shape from their CRD (`Kind.of_crd`), so nothing
distinguishes built-in kinds from custom ones above the client.

The constants below are the built-in kinds Portico's components act on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True, slots=True, order=True)
class GroupVersionKind:
    group: str
    version: str
    kind: str

    @property
    def api_version(self) -> str:
        """`v1` for the core group, `group/version` otherwise."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @classmethod
    def from_api_version(cls, api_version: str, kind: str) -> GroupVersionKind:
        group, _, version = api_version.rpartition("/")
        return cls(group, version, kind)

    @classmethod
    def of(cls, obj: dict[str, Any]) -> GroupVersionKind:
        """The GVK an object declares (`apiVersion`, `kind`)."""
        return cls.from_api_version(str(obj.get("apiVersion") or ""), str(obj.get("kind") or ""))

    def __str__(self) -> str:
        return f"{self.api_version}, Kind={self.kind}"


@dataclass(frozen=True, slots=True, order=True)
class GroupVersionResource:
    group: str
    version: str
    resource: str

    def __str__(self) -> str:
        prefix = f"{self.group}/" if self.group else ""
        return f"{prefix}{self.version}, Resource={self.resource}"


@dataclass(frozen=True, slots=True)
class Kind:
    """A kind as REST reaches it; `subresource` set for `pods/binding` and the like."""

    gvk: GroupVersionKind
    plural: str
    namespaced: bool
    subresource: str | None = None

    @classmethod
    def of(cls, api_version: str, kind: str, plural: str, namespaced: bool = True) -> Kind:
        return cls(GroupVersionKind.from_api_version(api_version, kind), plural, namespaced)

    @classmethod
    def of_crd(cls, crd: dict[str, Any], version: str) -> Kind:
        """The kind a CustomResourceDefinition serves at `version` (its accepted names)."""
        spec = crd.get("spec") or {}
        names = (crd.get("status") or {}).get("acceptedNames") or spec.get("names") or {}
        return cls(GroupVersionKind(str(spec.get("group")), version, str(names.get("kind"))),
                   str(names.get("plural")), spec.get("scope") == "Namespaced")

    @property
    def name(self) -> str:
        """The kind's name (`Pod`), with the subresource (`Pod/status`) when there is one."""
        return f"{self.gvk.kind}/{self.subresource}" if self.subresource else self.gvk.kind

    @property
    def api_version(self) -> str:
        return self.gvk.api_version

    @property
    def gvr(self) -> GroupVersionResource:
        return GroupVersionResource(self.gvk.group, self.gvk.version, self.plural)

    def sub(self, subresource: str) -> Kind:
        return replace(self, subresource=subresource)

    @property
    def status(self) -> Kind:
        return self.sub("status")

    @property
    def scale(self) -> Kind:
        return self.sub("scale")

    def __str__(self) -> str:
        return self.name


_KUBE_VERSION = re.compile(r"v(\d+)(?:(alpha|beta)(\d+))?")


def version_priority(version: str) -> tuple[int, int, int, str]:
    """Sort key of kube-aware version order: v2 > v1 > v1beta2 > v1beta1 > v1alpha1 > other."""
    match = _KUBE_VERSION.fullmatch(version)
    if match is None:
        return (3, 0, 0, version)
    major, stage, minor = match.groups()
    rank = {None: 0, "beta": 1, "alpha": 2}[stage]
    return (rank, -int(major), -int(minor or 0), "")


def _core(kind: str, plural: str, namespaced: bool = True) -> Kind:
    return Kind(GroupVersionKind("", "v1", kind), plural, namespaced)


def _grouped(group: str, version: str, kind: str, plural: str, namespaced: bool = True) -> Kind:
    return Kind(GroupVersionKind(group, version, kind), plural, namespaced)


# core/v1
NAMESPACE = _core("Namespace", "namespaces", namespaced=False)
NODE = _core("Node", "nodes", namespaced=False)
PERSISTENT_VOLUME = _core("PersistentVolume", "persistentvolumes", namespaced=False)
POD = _core("Pod", "pods")
POD_BINDING = POD.sub("binding")
SERVICE = _core("Service", "services")
ENDPOINTS = _core("Endpoints", "endpoints")
CONFIG_MAP = _core("ConfigMap", "configmaps")
SECRET = _core("Secret", "secrets")
SERVICE_ACCOUNT = _core("ServiceAccount", "serviceaccounts")
SERVICE_ACCOUNT_TOKEN = SERVICE_ACCOUNT.sub("token")
EVENT = _core("Event", "events")
PERSISTENT_VOLUME_CLAIM = _core("PersistentVolumeClaim", "persistentvolumeclaims")
REPLICATION_CONTROLLER = _core("ReplicationController", "replicationcontrollers")
# apps/v1
DEPLOYMENT = _grouped("apps", "v1", "Deployment", "deployments")
REPLICA_SET = _grouped("apps", "v1", "ReplicaSet", "replicasets")
STATEFUL_SET = _grouped("apps", "v1", "StatefulSet", "statefulsets")
DAEMON_SET = _grouped("apps", "v1", "DaemonSet", "daemonsets")
CONTROLLER_REVISION = _grouped("apps", "v1", "ControllerRevision", "controllerrevisions")
# batch/v1
JOB = _grouped("batch", "v1", "Job", "jobs")
CRON_JOB = _grouped("batch", "v1", "CronJob", "cronjobs")
# autoscaling/v2
HORIZONTAL_POD_AUTOSCALER = _grouped("autoscaling", "v2", "HorizontalPodAutoscaler",
                                     "horizontalpodautoscalers")
# coordination, discovery, networking, policy, storage
LEASE = _grouped("coordination.k8s.io", "v1", "Lease", "leases")
ENDPOINT_SLICE = _grouped("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices")
INGRESS = _grouped("networking.k8s.io", "v1", "Ingress", "ingresses")
INGRESS_CLASS = _grouped("networking.k8s.io", "v1", "IngressClass", "ingressclasses",
                         namespaced=False)
NETWORK_POLICY = _grouped("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies")
POD_DISRUPTION_BUDGET = _grouped("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets")
STORAGE_CLASS = _grouped("storage.k8s.io", "v1", "StorageClass", "storageclasses",
                         namespaced=False)
# rbac.authorization.k8s.io/v1
ROLE = _grouped("rbac.authorization.k8s.io", "v1", "Role", "roles")
ROLE_BINDING = _grouped("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings")
CLUSTER_ROLE = _grouped("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles",
                        namespaced=False)
CLUSTER_ROLE_BINDING = _grouped("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding",
                                "clusterrolebindings", namespaced=False)
# apiextensions.k8s.io/v1 and admissionregistration.k8s.io/v1
CUSTOM_RESOURCE_DEFINITION = _grouped("apiextensions.k8s.io", "v1", "CustomResourceDefinition",
                                      "customresourcedefinitions", namespaced=False)
VALIDATING_ADMISSION_POLICY = _grouped(
    "admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicy",
    "validatingadmissionpolicies", namespaced=False)
VALIDATING_ADMISSION_POLICY_BINDING = _grouped(
    "admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicyBinding",
    "validatingadmissionpolicybindings", namespaced=False)
# metrics.k8s.io/v1beta1 (written by the agents)
POD_METRICS = _grouped("metrics.k8s.io", "v1beta1", "PodMetrics", "pods")
NODE_METRICS = _grouped("metrics.k8s.io", "v1beta1", "NodeMetrics", "nodes", namespaced=False)


BUILTIN: dict[GroupVersionKind, Kind] = {
    k.gvk: k for k in globals().values() if isinstance(k, Kind) and k.subresource is None}


def builtin_kind(obj: dict[str, Any]) -> Kind:
    """The built-in kind an object declares; KeyError names it when Portico has no such kind."""
    gvk = GroupVersionKind.of(obj)
    try:
        return BUILTIN[gvk]
    except KeyError:
        raise KeyError(f"no built-in kind {gvk}") from None
