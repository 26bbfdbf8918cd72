"""The LoadBalancer (cloud.portico.dev/v1) objects' JSON, from the model (pure).

`spec` mirrors `az network lb show` (frontendIPConfigurations, backendAddressPools,
loadBalancingRules, probes, plus the securityRules the NSG would hold) and
`status.backendHealth` lists each probe's state per node. `remembered()` reads the
frontends back, so a restarted controller also knows addresses whose Service
status write was lost.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from portico.cloud.lb.model import (
    FRONTEND_NAME_LENGTH,
    HealthState,
    LoadBalancer,
    LoadBalancerType,
    ProbeTarget,
    probe_target,
)
from portico.model.kinds import Kind

GROUP = "cloud.portico.dev"
VERSION = "v1"
KIND = "LoadBalancer"
PLURAL = "loadbalancers"
LOAD_BALANCER = Kind.of(f"{GROUP}/{VERSION}", KIND, PLURAL, namespaced=False)
SECURITY_RULE_BASE_PRIORITY = 500


def _frontend(f: Any) -> dict[str, Any]:
    key = "privateIPAddress" if f.type == LoadBalancerType.INTERNAL else "publicIPAddress"
    return {"name": f.name, key: f.ip, "service": f.service}


def _security_rules(lb: LoadBalancer) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    for rule in lb.load_balancing_rules:
        frontend = lb.frontend(rule.frontend_ip_configuration)
        if frontend is None or not frontend.allowed_source_ranges:
            continue
        rules.append({
            "name": f"{rule.name}-allow", "access": "Allow", "direction": "Inbound",
            "priority": SECURITY_RULE_BASE_PRIORITY + len(rules),
            "protocol": rule.protocol.value,
            "sourceAddressPrefixes": list(frontend.allowed_source_ranges),
            "destinationAddressPrefix": frontend.ip,
            "destinationPortRange": str(rule.frontend_port)})
    return rules


def spec(lb: LoadBalancer) -> dict[str, Any]:
    pool = lb.backend_address_pool
    return {
        "type": lb.type.value,
        "frontendIPConfigurations": [_frontend(f) for f in lb.frontend_ip_configurations],
        "backendAddressPools": [{"name": pool.name, "members": [
            {"name": m.name, "ipAddress": m.ip_address} for m in pool.members]}],
        "loadBalancingRules": [{
            "name": r.name, "frontendIPConfiguration": r.frontend_ip_configuration,
            "protocol": r.protocol.value, "frontendPort": r.frontend_port,
            "backendPort": r.backend_port, "enableFloatingIP": r.enable_floating_ip,
            "idleTimeoutInMinutes": r.idle_timeout_in_minutes,
            "loadDistribution": r.load_distribution.value, "probe": r.probe,
            "backendAddressPool": pool.name} for r in lb.load_balancing_rules],
        "probes": [{
            "name": p.name, "protocol": p.protocol.value, "port": p.port,
            **({"requestPath": p.request_path} if p.request_path else {}),
            "intervalInSeconds": p.interval_in_seconds,
            "numberOfProbes": p.number_of_probes} for p in lb.probes],
        "securityRules": _security_rules(lb),
    }


def status(lb: LoadBalancer, health: Mapping[ProbeTarget, HealthState]) -> dict[str, Any]:
    return {"backendHealth": [
        {"probe": p.name, "node": m.name,
         "state": health.get(probe_target(p, m), HealthState.DOWN).value}
        for p in lb.probes for m in lb.backend_address_pool.members]}


def body(lb: LoadBalancer) -> dict[str, Any]:
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": KIND,
            "metadata": {"name": lb.name, "labels": {"portico.dev/load-balancer-type":
                                                      lb.type.value}},
            "spec": spec(lb)}


def remembered(objects: list[dict[str, Any]]) -> dict[str, str]:
    """frontend name (`a` + uid, 32 chars) -> address, from LoadBalancer objects."""
    found: dict[str, str] = {}
    for obj in objects:
        for f in (obj.get("spec") or {}).get("frontendIPConfigurations") or []:
            ip = f.get("publicIPAddress") or f.get("privateIPAddress")
            if f.get("name") and ip:
                found[str(f["name"])[:FRONTEND_NAME_LENGTH]] = str(ip)
    return found


def recorded_health(objects: list[dict[str, Any]]) -> dict[tuple[str, str], HealthState]:
    """(probe name, node name) -> last recorded state."""
    found = {}
    for obj in objects:
        for h in (obj.get("status") or {}).get("backendHealth") or []:
            if h.get("state") in (HealthState.UP.value, HealthState.DOWN.value):
                found[(h.get("probe"), h.get("node"))] = HealthState(h["state"])
    return found
