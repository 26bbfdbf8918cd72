"""Service defaulting and the REST storage's pre-validation fix-ups, in kube's order.

Theory of operation: kube-apiserver shapes a Service in three places before it
validates it, and the order decides what validation sees:

1. the v1 scheme defaulter (`SetDefaults_Service`): type, protocol, targetPort,
   sessionAffinity, traffic policies, allocateLoadBalancerNodePorts, ipMode;
2. the REST storage's `beginCreate`/`beginUpdate` (`storage.go`, `alloc.go`):
   `patchAllocatedValues` (carry allocated values a client omitted),
   `normalizeClusterIPs` (clusterIP <-> clusterIPs) and `initIPFamilyFields`
   (ipFamilyPolicy and ipFamilies, rejecting families this cluster lacks);
3. the strategy's `PrepareForCreate`/`PrepareForUpdate`: status reset or carried,
   and `dropTypeDependentFields` (values a type change made meaningless).

`set_defaults` is step 1 (plus dropping JSON nulls and the empty values Go's
`omitempty` would never serialize); `prepare_create`/`prepare_update` are steps 2
and 3. The single IP family of this cluster is IPv4.
"""

from __future__ import annotations

import copy
from typing import Any

from portico.apiserver.errors import FieldError, invalid, invalid_object
from portico.apiserver.resources import _base
from portico.apiserver.resources._service_storage import (
    needs_health_check,
    needs_node_ports,
    node_ports_of,
)
from portico.apiserver.resources._service_validation import (
    externally_accessible,
    go_strings,
    parse_ip,
    spec_of,
    validate_cluster_ips_related,
)
from portico.model.core import HEADLESS
from portico.model.vocabulary import IPFamily, IPFamilyPolicy, ServiceType, SessionAffinity

CLUSTER_FAMILIES = ("IPv4",)
DEFAULT_AFFINITY_SECONDS = 10800
_OMIT_EMPTY = (
    "clusterIP", "externalName", "loadBalancerIP", "externalTrafficPolicy",
    "healthCheckNodePort", "publishNotReadyAddresses", "ports", "selector", "clusterIPs",
    "externalIPs", "ipFamilies", "loadBalancerSourceRanges", "topologyKeys",
)
_PORT_OMIT_EMPTY = ("name", "nodePort")


def _compact(spec: dict[str, Any]) -> None:
    for key in [k for k, v in spec.items() if v is None]:
        del spec[key]
    for key in _OMIT_EMPTY:
        if key in spec and spec[key] in ("", 0, False, [], {}):
            del spec[key]
    for sp in spec.get("ports") or []:
        for key in [k for k, v in sp.items() if v is None]:
            del sp[key]
        for key in _PORT_OMIT_EMPTY:
            if key in sp and sp[key] in ("", 0):
                del sp[key]


def set_defaults(obj: _base.Object) -> None:
    """`SetDefaults_Service` on the v1 object."""
    if not isinstance(obj.get("spec"), dict):
        obj["spec"] = {}
    spec = obj["spec"]
    _compact(spec)
    if not spec.get("sessionAffinity"):
        spec["sessionAffinity"] = "None"
    if spec["sessionAffinity"] == SessionAffinity.NONE:
        spec.pop("sessionAffinityConfig", None)
    if spec["sessionAffinity"] == SessionAffinity.CLIENT_IP:
        config = spec.get("sessionAffinityConfig") or {}
        if (config.get("clientIP") or {}).get("timeoutSeconds") is None:
            spec["sessionAffinityConfig"] = {
                "clientIP": {"timeoutSeconds": DEFAULT_AFFINITY_SECONDS}}
    if not spec.get("type"):
        spec["type"] = "ClusterIP"
    for sp in spec.get("ports") or []:
        sp.setdefault("protocol", "TCP")
        if sp.get("targetPort") in (None, 0, ""):
            sp["targetPort"] = sp.get("port", 0)
    if externally_accessible(obj):
        spec.setdefault("externalTrafficPolicy", "Cluster")
    if spec["type"] in (ServiceType.NODE_PORT, ServiceType.LOAD_BALANCER, ServiceType.CLUSTER_IP):
        spec.setdefault("internalTrafficPolicy", "Cluster")
    status = obj.get("status")
    if not isinstance(status, dict):
        status = {}
    obj["status"] = status
    if not isinstance(status.get("loadBalancer"), dict):
        status["loadBalancer"] = {}
    if spec["type"] == ServiceType.LOAD_BALANCER:
        spec.setdefault("allocateLoadBalancerNodePorts", True)
        for ing in status["loadBalancer"].get("ingress") or []:
            if ing.get("ip") and ing.get("ipMode") is None:
                ing["ipMode"] = "VIP"


def _set_list(spec: dict[str, Any], key: str, values: list[Any]) -> None:
    if values:
        spec[key] = values
    else:
        spec.pop(key, None)


def normalize_cluster_ips(new: _base.Object, old: _base.Object | None) -> None:
    """`normalizeClusterIPs`: keep clusterIP and clusterIPs in step."""
    spec, cip = spec_of(new), spec_of(new).get("clusterIP") or ""
    ips = list(spec.get("clusterIPs") or [])
    if old is None:
        if cip and not ips:
            spec["clusterIPs"] = [cip]
        return
    old_spec = spec_of(old)
    old_cip, old_ips = old_spec.get("clusterIP") or "", list(old_spec.get("clusterIPs") or [])
    if old_ips and not ips and old_cip == cip:
        ips = old_ips
        spec["clusterIPs"] = list(old_ips)
    if old_cip != cip:
        same = old_ips == ips
        if old_cip and not cip:
            if same:
                spec.pop("clusterIPs", None)
        elif same:
            spec["clusterIPs"] = [cip]


def patch_allocated_values(new: _base.Object, old: _base.Object) -> None:
    """`patchAllocatedValues`: keep values we allocated when a client resubmits without them."""
    spec, old_spec = spec_of(new), spec_of(old)
    externals = ("ExternalName",)
    if old_spec.get("type") not in externals and spec.get("type") not in externals:
        if not spec.get("clusterIP") and old_spec.get("clusterIP"):
            spec["clusterIP"] = old_spec["clusterIP"]
        if not spec.get("clusterIPs") and old_spec.get("clusterIPs"):
            spec["clusterIPs"] = list(old_spec["clusterIPs"])
    if needs_node_ports(old) and needs_node_ports(new):
        used = set(node_ports_of(old)) & set(node_ports_of(new))
        by_name = {p.get("name") or "": int(p.get("nodePort") or 0)
                   for p in old_spec.get("ports") or []}
        for sp in spec.get("ports") or []:
            if not sp.get("nodePort"):
                old_value = by_name.get(sp.get("name") or "", 0)
                if old_value and old_value not in used:
                    sp["nodePort"] = old_value
    if (needs_health_check(old) and needs_health_check(new)
            and not spec.get("healthCheckNodePort") and old_spec.get("healthCheckNodePort")):
        spec["healthCheckNodePort"] = old_spec["healthCheckNodePort"]


def _matching_prefer_dual_stack(new: _base.Object, old: _base.Object | None) -> bool:
    """`isMatchingPreferDualStackClusterIPFields`."""
    if old is None:
        return False
    spec, old_spec = spec_of(new), spec_of(old)
    return (spec.get("ipFamilyPolicy") == IPFamilyPolicy.PREFER_DUAL_STACK
            and old_spec.get("ipFamilyPolicy") in (None, IPFamilyPolicy.PREFER_DUAL_STACK)
            and spec.get("type") == old_spec.get("type")
            and spec.get("type") in (ServiceType.CLUSTER_IP, ServiceType.NODE_PORT,
                                     ServiceType.LOAD_BALANCER)
            and (spec.get("clusterIPs") or []) == (old_spec.get("clusterIPs") or [])
            and (spec.get("ipFamilies") or []) == (old_spec.get("ipFamilies") or []))


def _raise(new: _base.Object, errs: list[FieldError]) -> None:
    if errs:
        raise invalid_object("Service", (new.get("metadata") or {}).get("name", ""), errs)


def _update_policy_checks(new: _base.Object, old: _base.Object) -> list[FieldError]:
    spec, old_spec = spec_of(new), spec_of(old)
    ips, families = spec.get("clusterIPs") or [], spec.get("ipFamilies") or []
    old_ips, old_families = old_spec.get("clusterIPs") or [], old_spec.get("ipFamilies") or []
    policy = spec["ipFamilyPolicy"]
    if policy == IPFamilyPolicy.SINGLE_STACK:
        if ips == old_ips and len(ips) > 1:
            spec["clusterIPs"] = ips[:1]
        if families == old_families and len(families) > 1:
            spec["ipFamilies"] = families[:1]
        return []
    errs: list[FieldError] = []
    if ips and len(ips) < len(old_ips):
        errs.append(invalid("spec.ipFamilyPolicy", policy,
                            "must be 'SingleStack' to release the secondary cluster IP"))
    if families and len(families) < len(old_families):
        errs.append(invalid("spec.ipFamilyPolicy", policy,
                            "must be 'SingleStack' to release the secondary IP family"))
    return errs


def _infer_families(spec: dict[str, Any]) -> list[FieldError]:
    """Single-stack policy sanity, then ipFamilies[i] from clusterIPs[i] where missing."""
    errs: list[FieldError] = []
    ips, families = list(spec.get("clusterIPs") or []), list(spec.get("ipFamilies") or [])
    if spec["ipFamilyPolicy"] == IPFamilyPolicy.SINGLE_STACK:
        for count, what in ((len(ips), "cluster IPs"), (len(families), "IP families")):
            if count == 2:
                errs.append(invalid("spec.ipFamilyPolicy", "SingleStack",
                                    "must be 'RequireDualStack' or 'PreferDualStack' when "
                                    f"multiple {what} are specified"))
    for i, ip in enumerate(ips):
        if ip == HEADLESS:
            break
        addr = parse_ip(ip)
        family = "unknown" if addr is None else f"IPv{addr.version}"
        if i >= len(families):
            if family not in CLUSTER_FAMILIES:
                errs.append(invalid(f"spec.clusterIPs[{i}]", go_strings(ips),
                                    f"{family} is not configured on this cluster"))
            else:
                families.append(family)
    _set_list(spec, "ipFamilies", families)
    return errs


def init_ip_family_fields(new: _base.Object, old: _base.Object | None) -> None:
    """`initIPFamilyFields` for a single-stack IPv4 cluster; raises a 422 `StatusError`."""
    spec = spec_of(new)
    if spec.get("type") == ServiceType.EXTERNAL_NAME or _matching_prefer_dual_stack(new, old):
        return
    if spec.get("ipFamilyPolicy") is None:
        old_policy = spec_of(old).get("ipFamilyPolicy") if old is not None else None
        if old_policy is not None:
            spec["ipFamilyPolicy"] = old_policy
        elif spec.get("clusterIP") == HEADLESS and not spec.get("selector"):
            spec["ipFamilyPolicy"] = "RequireDualStack"
        else:
            spec["ipFamilyPolicy"] = "SingleStack"
    _raise(new, validate_cluster_ips_related(new))
    errs = _update_policy_checks(new, old) if old is not None else []
    errs += _infer_families(spec)
    _raise(new, errs)
    families = list(spec.get("ipFamilies") or [])
    if spec.get("clusterIP") == HEADLESS and not spec.get("selector"):
        families = families or [CLUSTER_FAMILIES[0]]
        if len(families) < 2 and spec["ipFamilyPolicy"] != IPFamilyPolicy.SINGLE_STACK:
            families.append("IPv6" if families[0] == IPFamily.IPV4 else "IPv4")
        spec["ipFamilies"] = families
        return
    if spec["ipFamilyPolicy"] == IPFamilyPolicy.REQUIRE_DUAL_STACK:
        errs.append(invalid("spec.ipFamilyPolicy", "RequireDualStack",
                            "this cluster is not configured for dual-stack services"))
    errs += [invalid(f"spec.ipFamilies[{i}]", family, "not configured on this cluster")
             for i, family in enumerate(families) if family not in CLUSTER_FAMILIES]
    _raise(new, errs)
    spec["ipFamilies"] = families or [CLUSTER_FAMILIES[0]]


def drop_type_dependent_fields(new: _base.Object, old: _base.Object) -> None:
    """`dropTypeDependentFields`: wipe what a type change made meaningless (if unchanged)."""
    spec, old_spec = spec_of(new), spec_of(old)
    external_name = ServiceType.EXTERNAL_NAME
    if old_spec.get("type") != external_name and spec.get("type") == external_name:
        if (spec.get("clusterIP") == old_spec.get("clusterIP")
                and spec.get("clusterIPs") == old_spec.get("clusterIPs")):
            spec.pop("clusterIP", None)
            spec.pop("clusterIPs", None)
        for key in ("ipFamilies", "ipFamilyPolicy"):
            if spec.get(key) == old_spec.get(key):
                spec.pop(key, None)
    if (needs_node_ports(old) and not needs_node_ports(new)
            and set(node_ports_of(new)) <= set(node_ports_of(old))):
        for sp in spec.get("ports") or []:
            sp.pop("nodePort", None)
    if (needs_health_check(old) and not needs_health_check(new)
            and spec.get("healthCheckNodePort") == old_spec.get("healthCheckNodePort")):
        spec.pop("healthCheckNodePort", None)
    was_lb = old_spec.get("type") == ServiceType.LOAD_BALANCER
    is_lb = spec.get("type") == ServiceType.LOAD_BALANCER
    if was_lb and not is_lb:
        for key in ("allocateLoadBalancerNodePorts", "loadBalancerClass"):
            if key in spec and spec.get(key) == old_spec.get(key):
                spec.pop(key, None)
    if (needs_node_ports(old) and not needs_node_ports(new)
            and spec.get("externalTrafficPolicy") == old_spec.get("externalTrafficPolicy")):
        spec.pop("externalTrafficPolicy", None)
    if not is_lb:
        new.setdefault("status", {})["loadBalancer"] = {}


def trim_dual_stack_downgrade(new: _base.Object, old: _base.Object) -> None:
    """`trimFieldsForDualStackDowngrade`: SingleStack after dual-stack keeps the primary."""
    spec = spec_of(new)
    was_dual = spec_of(old).get("ipFamilyPolicy") in (IPFamilyPolicy.REQUIRE_DUAL_STACK,
                                                      IPFamilyPolicy.PREFER_DUAL_STACK)
    if was_dual and spec.get("ipFamilyPolicy") == IPFamilyPolicy.SINGLE_STACK:
        for key in ("clusterIPs", "ipFamilies"):
            if len(spec.get(key) or []) > 1:
                spec[key] = spec[key][:1]


def prepare_create(obj: _base.Object) -> None:
    """`beginCreate` (normalize, IP families) and `PrepareForCreate` (status reset)."""
    obj["status"] = {"loadBalancer": {}}
    normalize_cluster_ips(obj, None)
    init_ip_family_fields(obj, None)


def prepare_update(new: _base.Object, old: _base.Object) -> None:
    """`beginUpdate` fix-ups, then `PrepareForUpdate` (status carried, type-dependent wipes)."""
    new["status"] = copy.deepcopy(old.get("status") or {"loadBalancer": {}})
    patch_allocated_values(new, old)
    normalize_cluster_ips(new, old)
    init_ip_family_fields(new, old)
    drop_type_dependent_fields(new, old)
    trim_dual_stack_downgrade(new, old)
