"""Every kind the API server serves, and lookup by (group, version, plural).

Each kind lives in its own module with one `ResourceType` constant (its strategy,
table and discovery facts); `ALL_RESOURCES` lists them in discovery order.
"""

from __future__ import annotations

from portico.apiserver.resources import _base, services
from portico.apiserver.resources.admissionpolicies import (
    VALIDATINGADMISSIONPOLICIES,
    VALIDATINGADMISSIONPOLICYBINDINGS,
)
from portico.apiserver.resources.configmaps import CONFIGMAPS
from portico.apiserver.resources.controllerrevisions import CONTROLLERREVISIONS
from portico.apiserver.resources.cronjobs import CRONJOBS
from portico.apiserver.resources.customresourcedefinitions import CUSTOMRESOURCEDEFINITIONS
from portico.apiserver.resources.daemonsets import DAEMONSETS
from portico.apiserver.resources.deployments import DEPLOYMENTS
from portico.apiserver.resources.endpoints import ENDPOINTS
from portico.apiserver.resources.endpointslices import ENDPOINTSLICES
from portico.apiserver.resources.events import EVENTS
from portico.apiserver.resources.horizontalpodautoscalers import (
    HORIZONTALPODAUTOSCALERS,
    HORIZONTALPODAUTOSCALERS_V1,
)
from portico.apiserver.resources.ingressclasses import INGRESSCLASSES
from portico.apiserver.resources.ingresses import INGRESSES
from portico.apiserver.resources.jobs import JOBS
from portico.apiserver.resources.leases import LEASES
from portico.apiserver.resources.loadbalancers import LOADBALANCERS
from portico.apiserver.resources.metrics import NODEMETRICS, PODMETRICS
from portico.apiserver.resources.namespaces import NAMESPACES
from portico.apiserver.resources.networkpolicies import NETWORKPOLICIES
from portico.apiserver.resources.nodes import NODES
from portico.apiserver.resources.persistentvolumeclaims import PERSISTENTVOLUMECLAIMS
from portico.apiserver.resources.persistentvolumes import PERSISTENTVOLUMES
from portico.apiserver.resources.poddisruptionbudgets import PODDISRUPTIONBUDGETS
from portico.apiserver.resources.pods import PODS
from portico.apiserver.resources.rbac import RBAC_RESOURCES
from portico.apiserver.resources.replicasets import REPLICASETS
from portico.apiserver.resources.replicationcontrollers import REPLICATIONCONTROLLERS
from portico.apiserver.resources.reviews import REVIEW_RESOURCES
from portico.apiserver.resources.secrets import SECRETS
from portico.apiserver.resources.serviceaccounts import SERVICEACCOUNTS
from portico.apiserver.resources.statefulsets import STATEFULSETS
from portico.apiserver.resources.storageclasses import STORAGECLASSES

ALL_RESOURCES: tuple[_base.ResourceType, ...] = (
    CONFIGMAPS,
    ENDPOINTS,
    EVENTS,
    NAMESPACES,
    NODES,
    PERSISTENTVOLUMECLAIMS,
    PERSISTENTVOLUMES,
    PODS,
    REPLICATIONCONTROLLERS,
    SECRETS,
    SERVICEACCOUNTS,
    services.SERVICES,
    DEPLOYMENTS,
    REPLICASETS,
    STATEFULSETS,
    DAEMONSETS,
    CONTROLLERREVISIONS,
    JOBS,
    CRONJOBS,
    LEASES,
    ENDPOINTSLICES,
    INGRESSCLASSES,
    INGRESSES,
    NETWORKPOLICIES,
    LOADBALANCERS,
    CUSTOMRESOURCEDEFINITIONS,
    VALIDATINGADMISSIONPOLICIES,
    VALIDATINGADMISSIONPOLICYBINDINGS,
    STORAGECLASSES,
    NODEMETRICS,
    PODMETRICS,
    PODDISRUPTIONBUDGETS,
    HORIZONTALPODAUTOSCALERS,
    *RBAC_RESOURCES,
    *REVIEW_RESOURCES,
    HORIZONTALPODAUTOSCALERS_V1,
)

_BY_PLURAL: dict[tuple[str, str, str], _base.ResourceType] = {
    (r.group, r.version, r.plural): r for r in ALL_RESOURCES
}


def find(group: str, version: str, plural: str) -> _base.ResourceType | None:
    """The served kind at `/api(s)/<group>/<version>/.../<plural>`, or None."""
    return _BY_PLURAL.get((group, version, plural))


__all__ = ["ALL_RESOURCES", "find"]
