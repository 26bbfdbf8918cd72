"""`ValidateService`, `ValidateServiceUpdate` and `ValidateServiceStatusUpdate`.

Theory of operation: the entry points string together the field checks of
`_service_validation` in exactly upstream's order, so a Service with several
problems reports them in the same sequence kube-apiserver does. Metadata is
validated by the generic store before these run.
"""

from __future__ import annotations

from typing import Any

from portico.apiserver.errors import FieldError, forbidden, invalid, not_supported, required
from portico.apiserver.resources import _base
from portico.apiserver.resources._choices import validate_required_choice
from portico.apiserver.resources._meta import GoValue, is_dns1123_subdomain, validate_labels
from portico.apiserver.resources._service_storage import is_headless, needs_health_check
from portico.apiserver.resources._service_validation import (
    IP_MESSAGE,
    SERVICE_TYPES,
    TOPOLOGY_HINTS,
    TOPOLOGY_MODE,
    go_strings,
    parse_ip,
    spec_of,
    validate_affinity,
    validate_cluster_ips_related,
    validate_lb_class,
    validate_lb_fields,
    validate_non_special_ip,
    validate_port_sets,
    validate_ports,
    validate_source_ranges,
    validate_traffic,
    validate_type_specific,
)
from portico.model.vocabulary import IPFamilyPolicy, ServiceType


def _validate_topology(svc: _base.Object) -> list[FieldError]:
    annotations = (svc.get("metadata") or {}).get("annotations") or {}
    if TOPOLOGY_MODE in annotations and TOPOLOGY_HINTS in annotations:
        mode = annotations[TOPOLOGY_MODE]
        if mode != annotations[TOPOLOGY_HINTS]:
            return [invalid(f"metadata.annotations[{TOPOLOGY_MODE}]", mode,
                            f"must match annotations[{TOPOLOGY_HINTS}] when both are specified")]
    return []


def _validate_external_ips(spec: dict[str, Any]) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, ip in enumerate(spec.get("externalIPs") or []):
        path = f"spec.externalIPs[{i}]"
        if parse_ip(ip) is None:
            errs.append(invalid(path, ip, IP_MESSAGE))
        else:
            errs += validate_non_special_ip(ip, path)
    return errs


def validate_service(svc: _base.Object) -> list[FieldError]:
    """`ValidateService` without `ValidateObjectMeta` (the generic store runs that)."""
    spec = spec_of(svc)
    errs = _validate_topology(svc)
    external_name = spec.get("type") == ServiceType.EXTERNAL_NAME
    if not spec.get("ports") and not is_headless(svc) and not external_name:
        errs.append(required("spec.ports"))
    errs += validate_type_specific(svc)
    errs += validate_ports(spec)
    if spec.get("selector") is not None:
        errs += validate_labels(spec["selector"], "spec.selector")
    errs += validate_affinity(spec)
    errs += validate_cluster_ips_related(svc)
    errs += _validate_external_ips(spec)
    kind = spec.get("type") or ""
    errs.extend(validate_required_choice(kind, "spec.type", SERVICE_TYPES))
    errs += validate_port_sets(spec)
    errs += validate_source_ranges(svc)
    errs += validate_lb_fields(svc, None)
    errs += validate_traffic(svc)
    return errs


_CHANGED = "may not change once set"


def _external_name_involved(old: _base.Object, new: _base.Object) -> bool:
    """ExternalName Services have no cluster IPs: a change to or from one is exempt."""
    return ServiceType.EXTERNAL_NAME in (spec_of(new).get("type"), spec_of(old).get("type"))


def _upgrade_downgrade_cluster_ips(old: _base.Object, new: _base.Object) -> list[FieldError]:
    """`validateUpgradeDowngradeClusterIPs`: clusterIPs[0] never changes."""
    if _external_name_involved(old, new):
        return []
    if is_headless(old) and is_headless(new):
        return []
    old_ips: list[str] = list(spec_of(old).get("clusterIPs") or [])
    new_ips: list[str] = list(spec_of(new).get("clusterIPs") or [])
    shown = go_strings(new_ips)
    errs: list[FieldError] = []
    if len(old_ips) == len(new_ips):
        errs += [invalid(f"spec.clusterIPs[{i}]", shown, _CHANGED)
                 for i, ip in enumerate(old_ips) if ip != new_ips[i]]
    elif len(old_ips) > len(new_ips):
        if not new_ips:
            errs.append(invalid("spec.clusterIPs[0]", shown, "primary clusterIP can not be unset"))
        if old_ips and new_ips and new_ips[0] != old_ips[0]:
            errs.append(invalid("spec.clusterIPs[0]", shown, _CHANGED))
        errs += _release_policy_errors(new, new_ips, "clusterIP")
    elif old_ips and new_ips[0] != old_ips[0]:
        errs.append(invalid("spec.clusterIPs[0]", shown, _CHANGED))
    return errs


def _release_policy_errors(new: _base.Object, kept: list[str], what: str) -> list[FieldError]:
    """Releasing the secondary `what` (one of them `kept`) needs ipFamilyPolicy SingleStack."""
    policy = spec_of(new).get("ipFamilyPolicy")
    if len(kept) != 1 or policy == IPFamilyPolicy.SINGLE_STACK:
        return []
    shown = policy if policy is not None else GoValue("null")
    return [invalid("spec.ipFamilyPolicy", shown,
                    f"must be set to 'SingleStack' when releasing the secondary {what}")]


def _upgrade_downgrade_families(old: _base.Object, new: _base.Object) -> list[FieldError]:
    """`validateUpgradeDowngradeIPFamilies`: ipFamilies[0] never changes."""
    if _external_name_involved(old, new):
        return []
    if is_headless(old) or is_headless(new):
        return []
    old_f: list[str] = list(spec_of(old).get("ipFamilies") or [])
    new_f: list[str] = list(spec_of(new).get("ipFamilies") or [])
    shown_f = go_strings(new_f, "core.IPFamily")
    shown_ips = go_strings(list(spec_of(new).get("clusterIPs") or []))
    errs: list[FieldError] = []
    if len(old_f) == len(new_f):
        errs += [invalid("spec.ipFamilies[0]", shown_f, _CHANGED)
                 for i, fam in enumerate(old_f) if fam != new_f[i]]
    elif len(old_f) > len(new_f):
        if not spec_of(new).get("clusterIPs"):
            errs.append(invalid("spec.ipFamilies[0]", shown_f, "primary ipFamily can not be unset"))
        if new_f and new_f[0] != old_f[0]:
            errs.append(invalid("spec.ipFamilies[0]", shown_ips, _CHANGED))
        errs += _release_policy_errors(new, new_f, "ipFamily")
    elif old_f and new_f[0] != old_f[0]:
        errs.append(invalid("spec.ipFamilies[0]", shown_ips, _CHANGED))
    return errs


def validate_service_update(new: _base.Object, old: _base.Object) -> list[FieldError]:
    """`ValidateServiceUpdate` without `ValidateObjectMetaUpdate`."""
    errs = _upgrade_downgrade_cluster_ips(old, new)
    errs += _upgrade_downgrade_families(old, new)
    errs += validate_lb_class(new, old)
    if needs_health_check(old) and needs_health_check(new):
        old_hc = spec_of(old).get("healthCheckNodePort") or 0
        if (spec_of(new).get("healthCheckNodePort") or 0) != old_hc:
            errs.append(forbidden("spec.healthCheckNodePort", "field is immutable"))
    return errs + validate_service(new)


def validate_status_update(new: _base.Object, old: _base.Object) -> list[FieldError]:
    """`ValidateServiceStatusUpdate` without the metadata part: `ValidateLoadBalancerStatus`."""
    ingress = ((new.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    path = "status.loadBalancer.ingress"
    if spec_of(new).get("type") != ServiceType.LOAD_BALANCER and ingress:
        return [forbidden(path, "may only be used when `spec.type` is 'LoadBalancer'")]
    errs: list[FieldError] = []
    for i, ing in enumerate(ingress):
        ip, hostname, mode = ing.get("ip") or "", ing.get("hostname") or "", ing.get("ipMode")
        if ip and parse_ip(ip) is None:
            errs.append(invalid(f"{path}[{i}].ip", ip, IP_MESSAGE))
        if mode is None:
            if ip:
                errs.append(required(f"{path}[{i}].ipMode", "must be specified when `ip` is set"))
        elif not ip:
            errs.append(forbidden(f"{path}[{i}].ipMode",
                                  "may not be specified when `ip` is not set"))
        elif mode not in ("Proxy", "VIP"):
            errs.append(not_supported(f"{path}[{i}].ipMode", mode, ("Proxy", "VIP")))
        if hostname:
            errs += [invalid(f"{path}[{i}].hostname", hostname, m)
                     for m in is_dns1123_subdomain(hostname)]
            if parse_ip(hostname) is not None:
                errs.append(invalid(f"{path}[{i}].hostname", hostname,
                                    "must be a DNS name, not an IP address"))
    return errs
