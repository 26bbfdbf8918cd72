"""The core/v1 Service kind: defaults, validation, ClusterIP/NodePort allocation, table.

Theory of operation: `ServiceStrategy` maps kube-apiserver's Service registry onto
the generic store's hooks. kube allocates *before* it validates (`BeginCreate`
runs ahead of `PrepareForCreate`/`Validate`); our store validates first, so the
pure fix-ups that kube does in `BeginCreate`/`BeginUpdate` (clusterIP
normalization, IP family defaulting and its 422s, carrying allocated values)
happen in `prepare_for_create`/`prepare_for_update`, and only the reservations
themselves happen in `allocate`, inside the write transaction:

    default             -> `SetDefaults_Service`                (_service_prepare)
    prepare_for_create  -> normalize + initIPFamilyFields + status reset
    prepare_for_update  -> patchAllocatedValues + normalize + initIPFamilyFields
                           + dropTypeDependentFields
    validate(_update)   -> ValidateService / ValidateServiceUpdate (_service_rules)
    allocate / release  -> alloc.go over store keys            (_service_storage)

`make_services(config)` builds the kind for one cluster configuration.
"""

from __future__ import annotations

import datetime
from typing import Any

from portico.apiserver.errors import FieldError
from portico.apiserver.resources import _base
from portico.apiserver.resources._printers import age, name
from portico.apiserver.resources._service_alloc import (
    ServiceConfig,
    dns_service_ip,
    kubernetes_service_ip,
)
from portico.apiserver.resources._service_prepare import (
    prepare_create,
    prepare_update,
    set_defaults,
)
from portico.apiserver.resources._service_rules import (
    validate_service,
    validate_service_update,
    validate_status_update,
)
from portico.apiserver.resources._service_storage import (
    allocate_create,
    allocate_update,
    release_all,
    repair_allocations,
)
from portico.model.vocabulary import ServiceType


class ServiceStrategy(_base.Strategy):
    """kube-apiserver's `svcStrategy` plus the Service REST storage's allocation hooks."""

    name_validation = "dns1035"

    def __init__(self, config: ServiceConfig) -> None:
        self.config = config

    def default(self, obj: _base.Object) -> None:
        set_defaults(obj)

    def prepare_for_create(self, obj: _base.Object) -> None:
        prepare_create(obj)

    def prepare_for_update(self, new: _base.Object, old: _base.Object) -> None:
        prepare_update(new, old)

    def validate(self, obj: _base.Object) -> list[FieldError]:
        return validate_service(obj)

    def validate_update(self, new: _base.Object, old: _base.Object) -> list[FieldError]:
        return validate_service_update(new, old)

    def validate_status_update(self, new: _base.Object, old: _base.Object) -> list[FieldError]:
        """`services/status` writes (`ValidateServiceStatusUpdate` minus metadata)."""
        return validate_status_update(new, old)

    def allocate(self, ctx: _base.WriteContext, new: _base.Object,
                 old: _base.Object | None) -> None:
        if old is None:
            allocate_create(ctx, self.config, new)
        else:
            allocate_update(ctx, self.config, new, old)

    def release(self, ctx: _base.WriteContext, old: _base.Object) -> None:
        release_all(ctx, old)


# ---------------------------------------------------------------- table (printService)

_TYPE_DOC = (
    'type determines how the Service is exposed. Defaults to ClusterIP. Valid options are '
    'ExternalName, ClusterIP, NodePort, and LoadBalancer. "ClusterIP" allocates a '
    'cluster-internal IP address for load-balancing to endpoints. Endpoints are determined by '
    'the selector or if that is not specified, by manual construction of an Endpoints object or '
    'EndpointSlice objects. If clusterIP is "None", no virtual IP is allocated and the endpoints '
    'are published as a set of endpoints rather than a virtual IP. "NodePort" builds on '
    'ClusterIP and allocates a port on every node which routes to the same endpoints as the '
    'clusterIP. "LoadBalancer" builds on NodePort and creates an external load-balancer (if '
    'supported in the current cloud) which routes to the same endpoints as the clusterIP. '
    '"ExternalName" aliases this service to the specified externalName. Several other fields do '
    'not apply to ExternalName services. More info: https://kubernetes.io/docs/concepts/'
    'services-networking/service/#publishing-services-service-types'
)
_CLUSTER_IP_DOC = (
    'clusterIP is the IP address of the service and is usually assigned randomly. If an address '
    'is specified manually, is in-range (as per system configuration), and is not in use, it '
    'will be allocated to the service; otherwise creation of the service will fail. This field '
    'may not be changed through updates unless the type field is also being changed to '
    'ExternalName (which requires this field to be blank) or the type field is being changed '
    'from ExternalName (in which case this field may optionally be specified, as describe '
    'above).  Valid values are "None", empty string (""), or a valid IP address. Setting this '
    'to "None" makes a "headless service" (no virtual IP), which is useful when direct endpoint '
    'connections are preferred and proxying is not required.  Only applies to types ClusterIP, '
    'NodePort, and LoadBalancer. If this field is specified when creating a Service of type '
    'ExternalName, creation will fail. This field will be wiped when updating a Service to type '
    'ExternalName. More info: https://kubernetes.io/docs/concepts/services-networking/service/'
    '#virtual-ips-and-service-proxies'
)
_EXTERNAL_IPS_DOC = (
    'externalIPs is a list of IP addresses for which nodes in the cluster will also accept '
    'traffic for this service.  These IPs are not managed by Kubernetes.  The user is '
    'responsible for ensuring that traffic arrives at a node with this IP.  A common example is '
    'external load-balancers that are not part of the Kubernetes system.'
)
_PORTS_DOC = (
    'The list of ports that are exposed by this service. More info: https://kubernetes.io/docs/'
    'concepts/services-networking/service/#virtual-ips-and-service-proxies'
)
_SELECTOR_DOC = (
    'Route service traffic to pods with label keys and values matching this selector. If empty '
    'or not present, the service is assumed to have an external process managing its endpoints, '
    'which Kubernetes will not modify. Only applies to types ClusterIP, NodePort, and '
    'LoadBalancer. Ignored if type is ExternalName. More info: https://kubernetes.io/docs/'
    'concepts/services-networking/service/'
)

SERVICE_COLUMNS = (
    _base.NAME_COLUMN,
    _base.Column("Type", description=_TYPE_DOC),
    _base.Column("Cluster-IP", description=_CLUSTER_IP_DOC),
    _base.Column("External-IP", description=_EXTERNAL_IPS_DOC),
    _base.Column("Port(s)", description=_PORTS_DOC),
    _base.AGE_COLUMN,
    _base.Column("Selector", description=_SELECTOR_DOC, priority=1),
)


def _spec(obj: _base.Object) -> dict[str, Any]:
    spec = obj.get("spec")
    return spec if isinstance(spec, dict) else {}


def load_balancer_ips(obj: _base.Object) -> str:
    """`loadBalancerStatusStringer` (server tables are always wide: no truncation)."""
    ingress = ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    found = {ing.get("ip") or ing.get("hostname") for ing in ingress}
    return ",".join(sorted(v for v in found if v))


def external_ip_cell(obj: _base.Object) -> str:
    """`getServiceExternalIP`."""
    spec = _spec(obj)
    external = list(spec.get("externalIPs") or [])
    kind = spec.get("type")
    if kind in (ServiceType.CLUSTER_IP, ServiceType.NODE_PORT):
        return ",".join(external) if external else "<none>"
    if kind == ServiceType.LOAD_BALANCER:
        lb = load_balancer_ips(obj)
        if external:
            return ",".join((lb.split(",") if lb else []) + external)
        return lb or "<pending>"
    if kind == ServiceType.EXTERNAL_NAME:
        return str(spec.get("externalName") or "")
    return "<unknown>"


def ports_cell(obj: _base.Object) -> str:
    """`makePortString`: `80/TCP`, or `80:30080/TCP` when a nodePort is set."""
    pieces = []
    for sp in _spec(obj).get("ports") or []:
        port, proto, node_port = sp.get("port", 0), sp.get("protocol", ""), sp.get("nodePort", 0)
        pieces.append(f"{port}:{node_port}/{proto}" if node_port else f"{port}/{proto}")
    return ",".join(pieces) or "<none>"


def selector_cell(obj: _base.Object) -> str:
    """`labels.FormatLabels`: sorted `k=v` pairs joined by commas, `<none>` when empty."""
    selector = _spec(obj).get("selector") or {}
    return ",".join(f"{k}={selector[k]}" for k in sorted(selector)) or "<none>"


def service_cells(obj: _base.Object, now: datetime.datetime) -> list[Any]:
    """`printService` with `Wide: true`, as the server-side table convertor does."""
    ips = _spec(obj).get("clusterIPs") or []
    return [
        name(obj), str(_spec(obj).get("type") or ""), ips[0] if ips else "<none>",
        external_ip_cell(obj), ports_cell(obj), age(obj, now), selector_cell(obj),
    ]


def make_services(config: ServiceConfig) -> _base.ResourceType:
    """The Service kind for one cluster's `--service-cluster-ip-range` and port range."""
    return _base.ResourceType(
        group="", version="v1", kind="Service", plural="services", singular="service",
        namespaced=True, strategy=ServiceStrategy(config),
        table=_base.Table(SERVICE_COLUMNS, service_cells),
        short_names=("svc",), categories=("all",),
        subresources=(_base.Subresource("status"),),
        generation=False,
        field_selectors={
            "spec.clusterIP": _base.field_selector_fn("spec", "clusterIP"),
            "spec.type": _base.field_selector_fn("spec", "type"),
        },
    )


SERVICES: _base.ResourceType = make_services(ServiceConfig())

__all__ = [
    "SERVICES", "ServiceConfig", "ServiceStrategy", "dns_service_ip", "kubernetes_service_ip",
    "make_services", "repair_allocations",
]
