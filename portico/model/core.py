"""core/v1 views: `Service` (+`ServicePort`), `Pod` (+`Container`), `Node`.

Theory of operation
-------------------
Each view is parsed once from the object's JSON with `from_obj` and then read as typed
attributes (see `portico.model.meta` for the rules every view follows).  Absent fields
read as the API's defaults where the API defines one that components rely on
(`type: ClusterIP`, `protocol: TCP`, traffic policies `Cluster`, `sessionAffinity:
None`, `restartPolicy: Always`, `dnsPolicy: ClusterFirst`), otherwise as zero values;
unknown values of a closed set read as that default too.  A Service's `selector` is
`None` when absent, as it selects nothing either way (`selectors.service_selector`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from portico.model._parse import (
    JSONObject,
    bool_of,
    enum_of,
    int_of,
    int_or_str_of,
    labels_of,
    obj_of,
    objs_of,
    opt_int_of,
    opt_str_of,
    str_of,
    strs_of,
)
from portico.model.meta import Condition, ObjectMeta, conditions_of
from portico.model.vocabulary import (
    DNSPolicy,
    ImagePullPolicy,
    IPFamily,
    NodeAddressType,
    NodeConditionType,
    PodConditionType,
    PodPhase,
    Protocol,
    RestartPolicy,
    ServiceType,
    SessionAffinity,
    TaintEffect,
    TrafficPolicy,
)

__all__ = ["Container", "ContainerPort", "Node", "NodeAddress", "Pod", "Service", "ServicePort",
           "Taint"]

HEADLESS = "None"
"""`spec.clusterIP` of a headless Service."""


def _condition(conditions: tuple[Condition, ...], kind: str) -> Condition | None:
    return next((c for c in conditions if c.type == kind), None)


# --- Service -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ServicePort:
    """`spec.ports[]` of a Service; `node_port` is 0 when none is allocated."""

    name: str = ""
    protocol: Protocol = Protocol.TCP
    port: int = 0
    target_port: int | str | None = None
    node_port: int = 0
    app_protocol: str | None = None

    @classmethod
    def from_obj(cls, obj: JSONObject) -> ServicePort:
        return cls(name=str_of(obj.get("name")),
                   protocol=enum_of(Protocol, obj.get("protocol"), Protocol.TCP),
                   port=int_of(obj.get("port")), target_port=int_or_str_of(obj.get("targetPort")),
                   node_port=int_of(obj.get("nodePort")),
                   app_protocol=opt_str_of(obj.get("appProtocol")))


@dataclass(frozen=True, slots=True)
class Service:
    """A Service's spec and its `status.loadBalancer.ingress` addresses."""

    metadata: ObjectMeta
    type: ServiceType = ServiceType.CLUSTER_IP
    cluster_ip: str = ""
    cluster_ips: tuple[str, ...] = ()
    ip_families: tuple[IPFamily, ...] = ()
    selector: dict[str, str] | None = field(default=None, hash=False)
    ports: tuple[ServicePort, ...] = ()
    external_ips: tuple[str, ...] = ()
    external_name: str = ""
    session_affinity: SessionAffinity = SessionAffinity.NONE
    affinity_timeout_seconds: int | None = None
    external_traffic_policy: TrafficPolicy = TrafficPolicy.CLUSTER
    internal_traffic_policy: TrafficPolicy = TrafficPolicy.CLUSTER
    health_check_node_port: int = 0
    load_balancer_ip: str | None = None
    load_balancer_class: str | None = None
    load_balancer_source_ranges: tuple[str, ...] = ()
    publish_not_ready_addresses: bool = False
    load_balancer_ingress_ips: tuple[str, ...] = ()

    @classmethod
    def from_obj(cls, obj: JSONObject) -> Service:
        spec = obj_of(obj.get("spec"))
        client_ip = obj_of(obj_of(spec.get("sessionAffinityConfig")).get("clientIP"))
        ingress = objs_of(obj_of(obj_of(obj.get("status")).get("loadBalancer")).get("ingress"))
        selector = spec.get("selector")
        return cls(
            metadata=ObjectMeta.from_obj(obj),
            type=enum_of(ServiceType, spec.get("type"), ServiceType.CLUSTER_IP),
            cluster_ip=str_of(spec.get("clusterIP")), cluster_ips=strs_of(spec.get("clusterIPs")),
            ip_families=tuple(enum_of(IPFamily, f, IPFamily.IPV4)
                              for f in strs_of(spec.get("ipFamilies"))),
            selector=None if selector is None else labels_of(selector),
            ports=tuple(ServicePort.from_obj(p) for p in objs_of(spec.get("ports"))),
            external_ips=strs_of(spec.get("externalIPs")),
            external_name=str_of(spec.get("externalName")),
            session_affinity=enum_of(SessionAffinity, spec.get("sessionAffinity"),
                                     SessionAffinity.NONE),
            affinity_timeout_seconds=opt_int_of(client_ip.get("timeoutSeconds")),
            external_traffic_policy=enum_of(TrafficPolicy, spec.get("externalTrafficPolicy"),
                                            TrafficPolicy.CLUSTER),
            internal_traffic_policy=enum_of(TrafficPolicy, spec.get("internalTrafficPolicy"),
                                            TrafficPolicy.CLUSTER),
            health_check_node_port=int_of(spec.get("healthCheckNodePort")),
            load_balancer_ip=opt_str_of(spec.get("loadBalancerIP")),
            load_balancer_class=opt_str_of(spec.get("loadBalancerClass")),
            load_balancer_source_ranges=strs_of(spec.get("loadBalancerSourceRanges")),
            publish_not_ready_addresses=bool_of(spec.get("publishNotReadyAddresses")),
            load_balancer_ingress_ips=tuple(ip for i in ingress if (ip := str_of(i.get("ip")))),
        )

    @property
    def headless(self) -> bool:
        return self.cluster_ip == HEADLESS

    @property
    def externally_reachable(self) -> bool:
        """NodePort and LoadBalancer Services get node ports."""
        return self.type in (ServiceType.NODE_PORT, ServiceType.LOAD_BALANCER)


# --- Pod -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ContainerPort:
    container_port: int
    name: str = ""
    protocol: Protocol = Protocol.TCP
    host_port: int = 0

    @classmethod
    def from_obj(cls, obj: JSONObject) -> ContainerPort:
        return cls(container_port=int_of(obj.get("containerPort")), name=str_of(obj.get("name")),
                   protocol=enum_of(Protocol, obj.get("protocol"), Protocol.TCP),
                   host_port=int_of(obj.get("hostPort")))


@dataclass(frozen=True, slots=True)
class Container:
    """`spec.containers[]` / `spec.initContainers[]` (what components read of it)."""

    name: str
    image: str = ""
    image_pull_policy: ImagePullPolicy | None = None
    ports: tuple[ContainerPort, ...] = ()
    restart_policy: RestartPolicy | None = None
    """Set on sidecar init containers only (`Always`)."""

    @classmethod
    def from_obj(cls, obj: JSONObject) -> Container:
        pull, restart = obj.get("imagePullPolicy"), obj.get("restartPolicy")
        return cls(name=str_of(obj.get("name")), image=str_of(obj.get("image")),
                   image_pull_policy=enum_of(ImagePullPolicy, pull, ImagePullPolicy.IF_NOT_PRESENT)
                   if pull else None,
                   ports=tuple(ContainerPort.from_obj(p) for p in objs_of(obj.get("ports"))),
                   restart_policy=enum_of(RestartPolicy, restart, RestartPolicy.ALWAYS)
                   if restart else None)


@dataclass(frozen=True, slots=True)
class Pod:
    metadata: ObjectMeta
    node_name: str = ""
    host_network: bool = False
    restart_policy: RestartPolicy = RestartPolicy.ALWAYS
    dns_policy: DNSPolicy = DNSPolicy.CLUSTER_FIRST
    containers: tuple[Container, ...] = ()
    init_containers: tuple[Container, ...] = ()
    phase: PodPhase = PodPhase.PENDING
    pod_ip: str = ""
    pod_ips: tuple[str, ...] = ()
    host_ip: str = ""
    conditions: tuple[Condition, ...] = ()

    @classmethod
    def from_obj(cls, obj: JSONObject) -> Pod:
        spec, status = obj_of(obj.get("spec")), obj_of(obj.get("status"))
        return cls(
            metadata=ObjectMeta.from_obj(obj), node_name=str_of(spec.get("nodeName")),
            host_network=bool_of(spec.get("hostNetwork")),
            restart_policy=enum_of(RestartPolicy, spec.get("restartPolicy"), RestartPolicy.ALWAYS),
            dns_policy=enum_of(DNSPolicy, spec.get("dnsPolicy"), DNSPolicy.CLUSTER_FIRST),
            containers=tuple(Container.from_obj(c) for c in objs_of(spec.get("containers"))),
            init_containers=tuple(Container.from_obj(c)
                                  for c in objs_of(spec.get("initContainers"))),
            phase=enum_of(PodPhase, status.get("phase"), PodPhase.PENDING),
            pod_ip=str_of(status.get("podIP")),
            pod_ips=tuple(ip for p in objs_of(status.get("podIPs")) if (ip := str_of(p.get("ip")))),
            host_ip=str_of(status.get("hostIP")), conditions=conditions_of(status),
        )

    def condition(self, kind: PodConditionType) -> Condition | None:
        return _condition(self.conditions, kind)

    @property
    def ready(self) -> bool:
        """`podutil.IsPodReady`: the Ready condition is True."""
        cond = self.condition(PodConditionType.READY)
        return cond is not None and cond.true

    @property
    def terminated(self) -> bool:
        return self.phase in (PodPhase.SUCCEEDED, PodPhase.FAILED)


# --- Node ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NodeAddress:
    type: NodeAddressType
    address: str


@dataclass(frozen=True, slots=True)
class Taint:
    key: str
    effect: TaintEffect
    value: str = ""


@dataclass(frozen=True, slots=True)
class Node:
    metadata: ObjectMeta
    unschedulable: bool = False
    pod_cidrs: tuple[str, ...] = ()
    taints: tuple[Taint, ...] = ()
    addresses: tuple[NodeAddress, ...] = ()
    conditions: tuple[Condition, ...] = ()

    @classmethod
    def from_obj(cls, obj: JSONObject) -> Node:
        spec, status = obj_of(obj.get("spec")), obj_of(obj.get("status"))
        pod_cidrs = strs_of(spec.get("podCIDRs")) or strs_of([spec.get("podCIDR")])
        addresses = tuple(
            NodeAddress(NodeAddressType(kind), str_of(a.get("address")))
            for a in objs_of(status.get("addresses"))
            if (kind := str_of(a.get("type"))) in NodeAddressType.__members__.values())
        taints = tuple(
            Taint(str_of(t.get("key")), TaintEffect(effect), str_of(t.get("value")))
            for t in objs_of(spec.get("taints"))
            if (effect := str_of(t.get("effect"))) in TaintEffect.__members__.values())
        return cls(metadata=ObjectMeta.from_obj(obj),
                   unschedulable=bool_of(spec.get("unschedulable")), pod_cidrs=pod_cidrs,
                   taints=taints, addresses=addresses, conditions=conditions_of(status))

    def address(self, kind: NodeAddressType) -> str | None:
        """The first address of `kind` (e.g. the InternalIP), if any."""
        return next((a.address for a in self.addresses if a.type is kind), None)

    def condition(self, kind: NodeConditionType) -> Condition | None:
        return _condition(self.conditions, kind)

    @property
    def ready(self) -> bool:
        cond = self.condition(NodeConditionType.READY)
        return cond is not None and cond.true
