"""Kubernetes' closed vocabularies (core/v1, discovery/v1, networking/v1, meta/v1) as enums.

Theory of operation
-------------------
Every closed set of strings the API defines and Portico's code branches on lives
here once, spelled as upstream's Go constants spell their values (`v1.ServiceTypeNodePort
= "NodePort"` becomes `ServiceType.NODE_PORT = "NodePort"`).  They are `StrEnum`s, so a
member compares equal to the JSON string it stands for: `spec.get("type") ==
ServiceType.NODE_PORT` holds for the raw dict, and `ServiceType("NodePort")` parses one.

Invariants: values are upstream's word for word; nothing here imports anything but
`enum`; components import these instead of comparing against bare strings or defining
a copy.  Sets that are open (condition types of custom resources, reasons, annotations)
are not enums; the well-known members of a few of them are, where code branches on them.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "AddressType",
    "CRDConditionType",
    "ConditionStatus",
    "ConversionStrategy",
    "DNSPolicy",
    "EventType",
    "ExitCodesOperator",
    "IPFamily",
    "IPFamilyPolicy",
    "ImagePullPolicy",
    "JobConditionType",
    "LabelSelectorOperator",
    "NodeAddressType",
    "NodeConditionType",
    "NodeSelectorOperator",
    "PathType",
    "PodConditionType",
    "PodPhase",
    "PodReplacementPolicy",
    "Protocol",
    "ResourceScope",
    "RestartPolicy",
    "ScopeType",
    "ServiceType",
    "SessionAffinity",
    "TaintEffect",
    "TolerationOperator",
    "TrafficPolicy",
    "WatchEventType",
]


# --- Services (core/v1) -----------------------------------------------------------------


class ServiceType(StrEnum):
    """`spec.type` of a Service (`v1.ServiceType`); absent means ClusterIP."""

    CLUSTER_IP = "ClusterIP"
    NODE_PORT = "NodePort"
    LOAD_BALANCER = "LoadBalancer"
    EXTERNAL_NAME = "ExternalName"


class Protocol(StrEnum):
    """`v1.Protocol` of Service, container, EndpointSlice and NetworkPolicy ports."""

    TCP = "TCP"
    UDP = "UDP"
    SCTP = "SCTP"


class TrafficPolicy(StrEnum):
    """`spec.externalTrafficPolicy` and `spec.internalTrafficPolicy` (same two values)."""

    CLUSTER = "Cluster"
    LOCAL = "Local"


class SessionAffinity(StrEnum):
    """`spec.sessionAffinity` of a Service."""

    NONE = "None"
    CLIENT_IP = "ClientIP"


class IPFamily(StrEnum):
    """`spec.ipFamilies[]` of a Service, `v1.IPFamily`."""

    IPV4 = "IPv4"
    IPV6 = "IPv6"


class IPFamilyPolicy(StrEnum):
    """`spec.ipFamilyPolicy` of a Service."""

    SINGLE_STACK = "SingleStack"
    PREFER_DUAL_STACK = "PreferDualStack"
    REQUIRE_DUAL_STACK = "RequireDualStack"


class AddressType(StrEnum):
    """`addressType` of an EndpointSlice (discovery/v1)."""

    IPV4 = "IPv4"
    IPV6 = "IPv6"
    FQDN = "FQDN"


# --- Pods and Nodes (core/v1) -----------------------------------------------------------


class PodPhase(StrEnum):
    """`status.phase` of a Pod."""

    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    UNKNOWN = "Unknown"


class PodConditionType(StrEnum):
    """The Pod condition types kubelet and the scheduler set."""

    POD_SCHEDULED = "PodScheduled"
    POD_READY_TO_START_CONTAINERS = "PodReadyToStartContainers"
    INITIALIZED = "Initialized"
    CONTAINERS_READY = "ContainersReady"
    READY = "Ready"
    DISRUPTION_TARGET = "DisruptionTarget"


class NodeConditionType(StrEnum):
    """The Node condition types kubelet reports."""

    READY = "Ready"
    MEMORY_PRESSURE = "MemoryPressure"
    DISK_PRESSURE = "DiskPressure"
    PID_PRESSURE = "PIDPressure"
    NETWORK_UNAVAILABLE = "NetworkUnavailable"


class NodeAddressType(StrEnum):
    """`status.addresses[].type` of a Node."""

    HOSTNAME = "Hostname"
    INTERNAL_IP = "InternalIP"
    EXTERNAL_IP = "ExternalIP"
    INTERNAL_DNS = "InternalDNS"
    EXTERNAL_DNS = "ExternalDNS"


class RestartPolicy(StrEnum):
    """`spec.restartPolicy` of a Pod (and of a sidecar init container)."""

    ALWAYS = "Always"
    ON_FAILURE = "OnFailure"
    NEVER = "Never"


class DNSPolicy(StrEnum):
    """`spec.dnsPolicy` of a Pod."""

    CLUSTER_FIRST = "ClusterFirst"
    CLUSTER_FIRST_WITH_HOST_NET = "ClusterFirstWithHostNet"
    DEFAULT = "Default"
    NONE = "None"


class ImagePullPolicy(StrEnum):
    """`imagePullPolicy` of a container."""

    ALWAYS = "Always"
    IF_NOT_PRESENT = "IfNotPresent"
    NEVER = "Never"


class TaintEffect(StrEnum):
    """`effect` of a Node taint or a Pod toleration."""

    NO_SCHEDULE = "NoSchedule"
    PREFER_NO_SCHEDULE = "PreferNoSchedule"
    NO_EXECUTE = "NoExecute"


class TolerationOperator(StrEnum):
    """`operator` of a Pod toleration; absent means Equal."""

    EXISTS = "Exists"
    EQUAL = "Equal"


class NodeSelectorOperator(StrEnum):
    """`operator` of a node selector requirement (node affinity)."""

    IN = "In"
    NOT_IN = "NotIn"
    EXISTS = "Exists"
    DOES_NOT_EXIST = "DoesNotExist"
    GT = "Gt"
    LT = "Lt"


# --- meta/v1, events, watch ---------------------------------------------------------------


class ConditionStatus(StrEnum):
    """`status` of any condition (`metav1.ConditionStatus`)."""

    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class LabelSelectorOperator(StrEnum):
    """`operator` of a `metav1.LabelSelector` match expression."""

    IN = "In"
    NOT_IN = "NotIn"
    EXISTS = "Exists"
    DOES_NOT_EXIST = "DoesNotExist"


class EventType(StrEnum):
    """`type` of a core/v1 Event."""

    NORMAL = "Normal"
    WARNING = "Warning"


class WatchEventType(StrEnum):
    """`type` of a watch event (`watch.EventType`)."""

    ADDED = "ADDED"
    MODIFIED = "MODIFIED"
    DELETED = "DELETED"
    BOOKMARK = "BOOKMARK"
    ERROR = "ERROR"


# --- batch/v1, apiextensions/v1 -----------------------------------------------------------


class JobConditionType(StrEnum):
    """`status.conditions[].type` of a Job."""

    SUSPENDED = "Suspended"
    COMPLETE = "Complete"
    FAILED = "Failed"
    FAILURE_TARGET = "FailureTarget"
    SUCCESS_CRITERIA_MET = "SuccessCriteriaMet"


class PodReplacementPolicy(StrEnum):
    """`spec.podReplacementPolicy` of a Job."""

    TERMINATING_OR_FAILED = "TerminatingOrFailed"
    FAILED = "Failed"


class ExitCodesOperator(StrEnum):
    """`onExitCodes.operator` of a Job's pod failure policy rule."""

    IN = "In"
    NOT_IN = "NotIn"


class CRDConditionType(StrEnum):
    """`status.conditions[].type` of a CustomResourceDefinition."""

    ESTABLISHED = "Established"
    NAMES_ACCEPTED = "NamesAccepted"
    NON_STRUCTURAL_SCHEMA = "NonStructuralSchema"
    TERMINATING = "Terminating"
    KUBERNETES_API_APPROVAL_POLICY_CONFORMANT = "KubernetesAPIApprovalPolicyConformant"


class ResourceScope(StrEnum):
    """`spec.scope` of a CustomResourceDefinition."""

    CLUSTER = "Cluster"
    NAMESPACED = "Namespaced"


class ConversionStrategy(StrEnum):
    """`spec.conversion.strategy` of a CustomResourceDefinition; absent means None."""

    NONE = "None"
    WEBHOOK = "Webhook"


# --- admissionregistration/v1 ----------------------------------------------------------------


class ScopeType(StrEnum):
    """`scope` of an admission rule; absent means all scopes."""

    ALL = "*"
    CLUSTER = "Cluster"
    NAMESPACED = "Namespaced"


# --- networking/v1 -------------------------------------------------------------------------


class PathType(StrEnum):
    """`pathType` of an Ingress path."""

    EXACT = "Exact"
    PREFIX = "Prefix"
    IMPLEMENTATION_SPECIFIC = "ImplementationSpecific"
