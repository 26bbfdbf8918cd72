"""Service validation, word for word as `pkg/apis/core/validation` (`ValidateService`...).

Theory of operation: every check walks the JSON object and emits `FieldError`s in
upstream's order and with upstream's paths, values and messages (including its
quirks, e.g. the `spec.LoadBalancerSourceRanges` path and the bare
`allocateLoadBalancerNodePorts` path). Object metadata is validated by the generic
store, so these functions cover the spec (and status for `services/status`).

One deliberate difference from kube: there, allocation runs before validation, so
`healthCheckNodePort` is always set when it is needed. Our store validates first,
so a zero `healthCheckNodePort` that allocation is about to fill is not reported.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from portico.apiserver.errors import (
    FieldError,
    duplicate,
    forbidden,
    invalid,
    not_supported,
    required,
)
from portico.apiserver.resources import _base
from portico.apiserver.resources._choices import validate_required_choice, validate_unique_choices
from portico.apiserver.resources._meta import (
    GoValue,
    is_dns1123_label,
    is_dns1123_subdomain,
    is_valid_port_name,
    is_valid_port_num,
)
from portico.apiserver.resources._service_storage import is_headless, needs_health_check
from portico.model.core import HEADLESS
from portico.model.validation import is_qualified_name
from portico.model.vocabulary import IPFamily, ServiceType, SessionAffinity, TrafficPolicy

TOPOLOGY_HINTS = "service.kubernetes.io/topology-aware-hints"
TOPOLOGY_MODE = "service.kubernetes.io/topology-mode"
SOURCE_RANGES_ANNOTATION = "service.beta.kubernetes.io/load-balancer-source-ranges"
SERVICE_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
PROTOCOLS = ("SCTP", "TCP", "UDP")
IP_FAMILIES = ("IPv4", "IPv6")
IP_FAMILY_POLICIES = ("PreferDualStack", "RequireDualStack", "SingleStack")
MAX_AFFINITY_SECONDS = 86400
IP_MESSAGE = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"
CIDR_MESSAGE = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"
_CLIENT_IP = "when session affinity type is ClientIP"


def spec_of(obj: _base.Object) -> dict[str, Any]:
    spec = obj.get("spec")
    return spec if isinstance(spec, dict) else {}


def go_strings(values: list[str] | None, type_name: str = "string") -> GoValue:
    """`%#v` of a Go string slice: `[]string{"a", "b"}`, or `[]string(nil)` when unset."""
    if not values:
        return GoValue(f"[]{type_name}(nil)")
    return GoValue(f"[]{type_name}{{" + ", ".join(f'"{v}"' for v in values) + "}")


def parse_ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """`netutils.ParseIPSloppy` (zones and CIDRs are not addresses)."""
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def is_valid_cidr(value: str) -> bool:
    """`netutils.ParseCIDRSloppy`: `<ip>/<prefix length>`, host bits allowed."""
    addr, sep, bits = value.partition("/")
    if not sep or not bits.isdigit() or parse_ip(addr) is None:
        return False
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return True


def _label_errors(value: str, path: str) -> list[FieldError]:
    return [invalid(path, value, m) for m in is_dns1123_label(value)]


def validate_non_special_ip(ip: str, path: str) -> list[FieldError]:
    """`ValidateNonSpecialIP` (external IPs and endpoints)."""
    addr = parse_ip(ip)
    if addr is None:
        return [invalid(path, ip, "must be a valid IP address")]
    errs: list[FieldError] = []
    if addr.is_unspecified:
        errs.append(invalid(path, ip, f"may not be unspecified ({ip})"))
    if addr.is_loopback:
        errs.append(invalid(path, ip, "may not be in the loopback range (127.0.0.0/8, ::1/128)"))
    if addr.is_link_local and not addr.is_multicast:
        errs.append(invalid(path, ip, "may not be in the link-local range "
                                      "(169.254.0.0/16, fe80::/10)"))
    link_local_mc = (ipaddress.ip_network("224.0.0.0/24") if addr.version == 4
                     else ipaddress.ip_network("ff02::/16"))
    if addr in link_local_mc:
        errs.append(invalid(path, ip, "may not be in the link-local multicast range "
                                      "(224.0.0.0/24, ff02::/10)"))
    return errs


def _port_value(sp: dict[str, Any]) -> GoValue:
    """`%#v` of the `core.ServicePort{Protocol, Port}` key of the duplicate-port check."""
    protocol = sp.get("protocol") or ""
    return GoValue(
        f'core.ServicePort{{Name:"", Protocol:"{protocol}", AppProtocol:(*string)(nil), '
        f'Port:{int(sp.get("port") or 0)}, TargetPort:intstr.IntOrString{{Type:0, IntVal:0, '
        'StrVal:""}, NodePort:0}'
    )


def validate_service_port(sp: dict[str, Any], require_name: bool, names: set[str],
                          path: str) -> list[FieldError]:
    """`validateServicePort`."""
    errs: list[FieldError] = []
    name = sp.get("name") or ""
    if require_name and not name:
        errs.append(required(f"{path}.name"))
    elif name:
        errs += _label_errors(name, f"{path}.name")
        if name in names:
            errs.append(duplicate(f"{path}.name", name))
        names.add(name)
    port = int(sp.get("port") or 0)
    errs += [invalid(f"{path}.port", port, m) for m in is_valid_port_num(port)]
    protocol = sp.get("protocol") or ""
    errs.extend(validate_required_choice(protocol, f"{path}.protocol", PROTOCOLS))
    target = sp.get("targetPort", 0)
    if isinstance(target, str):
        errs += [invalid(f"{path}.targetPort", target, m) for m in is_valid_port_name(target)]
    else:
        number = int(target or 0)
        errs += [invalid(f"{path}.targetPort", number, m) for m in is_valid_port_num(number)]
    if sp.get("appProtocol") is not None:
        app = str(sp["appProtocol"])
        errs += [invalid(f"{path}.appProtocol", app, m) for m in is_qualified_name(app)]
    return errs


def validate_type_specific(svc: _base.Object) -> list[FieldError]:
    spec = spec_of(svc)
    kind = spec.get("type")
    ips = spec.get("clusterIPs") or []
    if kind in (ServiceType.LOAD_BALANCER, ServiceType.NODE_PORT) and is_headless(svc):
        return [invalid("spec.clusterIPs[0]", ips[0],
                        f"may not be set to 'None' for {kind} services")]
    if kind != ServiceType.EXTERNAL_NAME:
        return []
    errs: list[FieldError] = []
    for fld in ("clusterIPs", "ipFamilies"):
        if spec.get(fld):
            errs.append(forbidden(f"spec.{fld}", "may not be set for ExternalName services"))
    if spec.get("ipFamilyPolicy") is not None:
        errs.append(forbidden("spec.ipFamilyPolicy", "may not be set for ExternalName services"))
    cname = str(spec.get("externalName") or "").removesuffix(".")
    if cname:
        errs += [invalid("spec.externalName", cname, m) for m in is_dns1123_subdomain(cname)]
    else:
        errs.append(required("spec.externalName"))
    return errs


def validate_affinity(spec: dict[str, Any]) -> list[FieldError]:
    affinity = spec.get("sessionAffinity") or ""
    path = "spec.sessionAffinityConfig"
    if not affinity:
        return [required("spec.sessionAffinity")]
    if affinity not in (SessionAffinity.CLIENT_IP, SessionAffinity.NONE):
        return [not_supported("spec.sessionAffinity", affinity, ("ClientIP", "None"))]
    config = spec.get("sessionAffinityConfig")
    if affinity == SessionAffinity.NONE:
        if config is not None:
            return [forbidden(path, "must not be set when session affinity is None")]
        return []
    if config is None:
        return [required(path, _CLIENT_IP)]
    if config.get("clientIP") is None:
        return [required(f"{path}.clientIP", _CLIENT_IP)]
    timeout = config["clientIP"].get("timeoutSeconds")
    if timeout is None:
        return [required(f"{path}.clientIP.timeoutSeconds", _CLIENT_IP)]
    if timeout <= 0 or timeout > MAX_AFFINITY_SECONDS:
        return [invalid(f"{path}.clientIP.timeoutSeconds", timeout,
                        f"must be greater than 0 and less than {MAX_AFFINITY_SECONDS}")]
    return []


def validate_cluster_ips_related(svc: _base.Object) -> list[FieldError]:
    """`ValidateServiceClusterIPsRelatedFields` (also run before IP family defaulting)."""
    spec = spec_of(svc)
    if spec.get("type") == ServiceType.EXTERNAL_NAME:
        return []
    errs: list[FieldError] = []
    cluster_ip = spec.get("clusterIP") or ""
    ips: list[str] = list(spec.get("clusterIPs") or [])
    families: list[str] = list(spec.get("ipFamilies") or [])
    if cluster_ip:
        if not ips:
            errs.append(required("spec.clusterIPs"))
        elif ips[0] != cluster_ip:
            errs.append(invalid("spec.clusterIPs", go_strings(ips),
                                "first value must match `clusterIP`"))
    elif ips:
        errs.append(invalid("spec.clusterIPs", go_strings(ips),
                            "must be empty when `clusterIP` is not specified"))
    errs.extend(validate_unique_choices(families, "spec.ipFamilies", IP_FAMILIES))
    policy = spec.get("ipFamilyPolicy")
    if policy is not None and policy not in IP_FAMILY_POLICIES:
        errs.append(not_supported("spec.ipFamilyPolicy", policy, IP_FAMILY_POLICIES))
    bad_ips = False
    for i, ip in enumerate(ips):
        if i == 0 and ip == HEADLESS:
            if len(ips) > 1:
                bad_ips = True
                errs.append(invalid("spec.clusterIPs", go_strings(ips),
                                    "'None' must be the first and only value"))
            continue
        if parse_ip(ip) is None:
            bad_ips = True
            errs.append(invalid(f"spec.clusterIPs[{i}]", ip, IP_MESSAGE))
    if len(ips) > 2:
        errs.append(invalid("spec.clusterIPs", go_strings(ips), "may only hold up to 2 values"))
    if bad_ips:
        return errs
    return errs + _cluster_ip_families(ips, families, is_headless(svc))


def _cluster_ip_families(ips: list[str], families: list[str], headless: bool,
                         ) -> list[FieldError]:
    errs: list[FieldError] = []
    parsed = [parse_ip(ip) for ip in ips]
    versions = {addr.version for addr in parsed if addr is not None}
    if len(ips) > 1 and versions != {4, 6}:
        errs.append(invalid("spec.clusterIPs", go_strings(ips),
                            "may specify no more than one IP for each IP family"))
    if headless or not ips or not families:
        return errs
    for i, (ip, addr) in enumerate(zip(ips, parsed, strict=True)):
        if i >= len(families) or addr is None:
            break
        if families[i] == IPFamily.IPV4 and addr.version == 6:
            errs.append(invalid(f"spec.clusterIPs[{i}]", ip,
                                f"expected an IPv4 value as indicated by `ipFamilies[{i}]`"))
        if families[i] == IPFamily.IPV6 and addr.version == 4:
            errs.append(invalid(f"spec.clusterIPs[{i}]", ip,
                                f"expected an IPv6 value as indicated by `ipFamilies[{i}]`"))
    return errs


def validate_ports(spec: dict[str, Any]) -> list[FieldError]:
    errs: list[FieldError] = []
    names: set[str] = set()
    ports = spec.get("ports") or []
    for i, sp in enumerate(ports):
        errs += validate_service_port(sp, len(ports) > 1, names, f"spec.ports[{i}]")
    return errs


def validate_port_sets(spec: dict[str, Any]) -> list[FieldError]:
    """nodePort forbidden on ClusterIP; duplicate (protocol, port)."""
    errs: list[FieldError] = []
    ports = spec.get("ports") or []
    if spec.get("type") == ServiceType.CLUSTER_IP:
        errs += [forbidden(f"spec.ports[{i}].nodePort", "may not be used when `type` is "
                           "'ClusterIP'") for i, sp in enumerate(ports) if sp.get("nodePort")]
    # a nodePort asked for twice is reported by the allocator, which kube-apiserver runs
    # before validation: `spec.ports[1].nodePort: ... provided port is already allocated`
    seen: set[tuple[str, int]] = set()
    for i, sp in enumerate(ports):
        key = (sp.get("protocol") or "", int(sp.get("port") or 0))
        if key in seen:
            errs.append(duplicate(f"spec.ports[{i}]", _port_value(sp)))
        seen.add(key)
    return errs


def validate_source_ranges(svc: _base.Object) -> list[FieldError]:
    spec = spec_of(svc)
    ranges = spec.get("loadBalancerSourceRanges") or []
    annotations = (svc.get("metadata") or {}).get("annotations") or {}
    lb = spec.get("type") == ServiceType.LOAD_BALANCER
    only_lb = "may only be used when `type` is 'LoadBalancer'"
    errs: list[FieldError] = []
    if ranges:
        path = "spec.LoadBalancerSourceRanges"
        if not lb:
            errs.append(forbidden(path, only_lb))
        for i, value in enumerate(ranges):
            value = value.strip()
            if not is_valid_cidr(value):
                errs.append(invalid(f"{path}[{i}]", value, CIDR_MESSAGE))
    elif SOURCE_RANGES_ANNOTATION in annotations:
        path = f"metadata.annotations[{SOURCE_RANGES_ANNOTATION}]"
        if not lb:
            errs.append(forbidden(path, only_lb))
        text = str(annotations[SOURCE_RANGES_ANNOTATION]).strip()
        for value in text.split(",") if text else []:
            if not is_valid_cidr(value.strip()):
                errs.append(invalid(path, value.strip(), CIDR_MESSAGE))
    return errs


def validate_lb_fields(svc: _base.Object, old: _base.Object | None) -> list[FieldError]:
    """allocateLoadBalancerNodePorts and `validateLoadBalancerClassField`."""
    spec = spec_of(svc)
    lb = spec.get("type") == ServiceType.LOAD_BALANCER
    errs: list[FieldError] = []
    if spec.get("allocateLoadBalancerNodePorts") is not None and not lb:
        errs.append(forbidden("spec.allocateLoadBalancerNodePorts",
                              "may only be used when `type` is 'LoadBalancer'"))
    if lb and spec.get("allocateLoadBalancerNodePorts") is None:
        errs.append(required("allocateLoadBalancerNodePorts"))
    errs += validate_lb_class(svc, old)
    return errs


def validate_lb_class(svc: _base.Object, old: _base.Object | None) -> list[FieldError]:
    spec = spec_of(svc)
    cls = spec.get("loadBalancerClass")
    errs: list[FieldError] = []
    if (old is not None and spec.get("type") == ServiceType.LOAD_BALANCER
            and spec_of(old).get("type") == ServiceType.LOAD_BALANCER
            and spec_of(old).get("loadBalancerClass") != cls):
        shown = cls if cls is not None else GoValue("null")
        errs.append(invalid("spec.loadBalancerClass", shown, "may not change once set"))
    if spec.get("type") == ServiceType.LOAD_BALANCER:
        if cls is not None:
            errs += [invalid("spec.loadBalancerClass", cls, m) for m in is_qualified_name(cls)]
    elif cls is not None:
        errs.append(forbidden("spec.loadBalancerClass",
                              "may only be used when `type` is 'LoadBalancer'"))
    return errs


def externally_accessible(svc: _base.Object) -> bool:
    spec = spec_of(svc)
    kind = spec.get("type")
    return kind in (ServiceType.LOAD_BALANCER, ServiceType.NODE_PORT) or (
        kind == ServiceType.CLUSTER_IP and bool(spec.get("externalIPs")))


def validate_traffic(svc: _base.Object) -> list[FieldError]:
    """External and internal traffic policies, health-check port, traffic distribution."""
    spec = spec_of(svc)
    errs: list[FieldError] = []
    etp = spec.get("externalTrafficPolicy") or ""
    if not externally_accessible(svc):
        if etp:
            errs.append(invalid("spec.externalTrafficPolicy", etp,
                                "may only be set for externally-accessible services"))
    elif not etp:
        errs.append(required("spec.externalTrafficPolicy"))
    elif etp not in (TrafficPolicy.CLUSTER, TrafficPolicy.LOCAL):
        errs.append(not_supported("spec.externalTrafficPolicy", etp, ("Cluster", "Local")))
    hc = int(spec.get("healthCheckNodePort") or 0)
    if hc and not needs_health_check(svc):
        errs.append(invalid("spec.healthCheckNodePort", hc, "may only be set when `type` is "
                            "'LoadBalancer' and `externalTrafficPolicy` is 'Local'"))
    # a requested healthCheckNodePort out of range is the allocator's error (a 500 in kube,
    # which allocates before it validates)
    itp = spec.get("internalTrafficPolicy")
    if itp is None and spec.get("type") in (ServiceType.NODE_PORT, ServiceType.LOAD_BALANCER,
                                            ServiceType.CLUSTER_IP):
        errs.append(required("spec.internalTrafficPolicy"))
    if itp is not None and itp not in (TrafficPolicy.CLUSTER, TrafficPolicy.LOCAL):
        errs.append(not_supported("spec.internalTrafficPolicy", itp, ("Cluster", "Local")))
    dist = spec.get("trafficDistribution")
    if dist is not None and dist != "PreferClose":
        errs.append(not_supported("spec.trafficDistribution", dist, ("PreferClose",)))
    return errs
