"""Service-level allocation: `allocateCreate`, `allocateUpdate`, release and repair.

Theory of operation: these functions walk a Service the way kube-apiserver's
`storage/alloc.go` does and call the range primitives of `_service_alloc` for each
value, all inside the caller's write transaction. On create, cluster IPs are filled
per IP family, nodePorts per port (one per port number, shared by TCP and UDP, and
only explicit ones when `allocateLoadBalancerNodePorts` is false) and the
health-check port for LoadBalancer + Local. On update, only the differences against
the old object are allocated; values the new object no longer uses are released
after every allocation succeeded (`ReleaseDeferred`). `repair_allocations` is the
start-up reconciliation (kube's repair controllers) of the keys against the stored
Services.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from portico.apiserver.errors import internal
from portico.apiserver.resources import _base
from portico.apiserver.resources._service_alloc import (
    IP_PREFIX,
    PORT_PREFIX,
    AllocationError,
    PortOperation,
    ServiceConfig,
    allocate_ip,
    cluster_ip_error,
    ip_bounds,
    node_port_error,
    owner_of,
    release_ip,
)
from portico.model.core import HEADLESS
from portico.model.vocabulary import ServiceType, TrafficPolicy


def _spec(svc: _base.Object) -> dict[str, Any]:
    spec = svc.get("spec")
    return spec if isinstance(spec, dict) else {}


def svc_type(svc: _base.Object) -> str:
    return str(_spec(svc).get("type") or "")


def needs_node_ports(svc: _base.Object) -> bool:
    return svc_type(svc) in (ServiceType.NODE_PORT, ServiceType.LOAD_BALANCER)


def needs_health_check(svc: _base.Object) -> bool:
    """`apiservice.NeedsHealthCheck`: LoadBalancer with externalTrafficPolicy Local."""
    spec = _spec(svc)
    return (spec.get("type") == ServiceType.LOAD_BALANCER
            and spec.get("externalTrafficPolicy") == TrafficPolicy.LOCAL)


def should_allocate_node_ports(svc: _base.Object) -> bool:
    if svc_type(svc) == ServiceType.NODE_PORT:
        return True
    if svc_type(svc) == ServiceType.LOAD_BALANCER:
        return _spec(svc).get("allocateLoadBalancerNodePorts") is not False
    return False


def is_headless(svc: _base.Object) -> bool:
    ips = _spec(svc).get("clusterIPs") or []
    return len(ips) > 0 and ips[0] == HEADLESS


def node_ports_of(svc: _base.Object) -> list[int]:
    """`collectServiceNodePorts`: the non-zero nodePorts, in port order (repeats kept)."""
    return [int(p["nodePort"]) for p in _spec(svc).get("ports") or [] if p.get("nodePort")]


def _alloc_cluster_ips(ctx: _base.WriteContext, config: ServiceConfig, svc: _base.Object) -> None:
    """`allocClusterIPs`: fill clusterIPs[i] for each family, then clusterIP."""
    spec = _spec(svc)
    if spec.get("type") == ServiceType.EXTERNAL_NAME or is_headless(svc):
        return
    ips = list(spec.get("clusterIPs") or [])
    families = spec.get("ipFamilies") or ["IPv4"]
    while len(ips) < len(families):
        ips.append("")
    spec["clusterIPs"] = ips
    for i, _family in enumerate(families):
        try:
            ips[i] = allocate_ip(ctx, config, owner_of(svc), ips[i])
        except AllocationError as err:
            if ips[i] == "":
                raise internal(f"failed to allocate a serviceIP: {err}") from None
            raise cluster_ip_error(svc, ips[i], err) from None
    spec["clusterIP"] = ips[0]


def _init_node_ports(op: PortOperation, svc: _base.Object) -> None:
    """`initNodePorts`: one nodePort per port number, shared across protocols."""
    by_port: dict[int, int] = {}
    ports = _spec(svc).get("ports") or []
    for i, sp in enumerate(ports):
        node_port = int(sp.get("nodePort") or 0)
        if node_port == 0 and not should_allocate_node_ports(svc):
            continue
        number = int(sp.get("port") or 0)
        allocated = by_port.get(number, 0)
        if allocated == 0:
            requested = next((int(p["nodePort"]) for p in ports
                              if int(p.get("port") or 0) == number and p.get("nodePort")), 0)
            if requested:
                _allocate_port(op, svc, i, requested)
                chosen = requested
            else:
                chosen = _allocate_next_port(op)
            sp["nodePort"] = chosen
            by_port[number] = chosen
        elif node_port != allocated:
            if node_port == 0:
                sp["nodePort"] = allocated
            else:
                _allocate_port(op, svc, i, node_port)


def _allocate_port(op: PortOperation, svc: _base.Object, index: int, port: int) -> None:
    try:
        op.allocate(port)
    except AllocationError as err:
        raise node_port_error(svc, index, port, err) from None


def _allocate_next_port(op: PortOperation) -> int:
    try:
        return op.allocate_next()
    except AllocationError as err:
        raise internal(f"failed to allocate a nodePort: {err}") from None


def _alloc_health_check_port(op: PortOperation, svc: _base.Object) -> None:
    spec = _spec(svc)
    wanted = int(spec.get("healthCheckNodePort") or 0)
    try:
        if wanted:
            op.allocate(wanted)
        else:
            spec["healthCheckNodePort"] = op.allocate_next()
    except AllocationError as err:
        if wanted:
            raise internal(
                f"failed to allocate requested HealthCheck NodePort {wanted}: {err}"
            ) from None
        raise internal(f"failed to allocate a HealthCheck NodePort 0: {err}") from None


def allocate_create(ctx: _base.WriteContext, config: ServiceConfig, svc: _base.Object) -> None:
    """`allocateCreate` (IP family fields were initialized in `prepare_for_create`)."""
    _alloc_cluster_ips(ctx, config, svc)
    op = PortOperation(ctx, config, owner_of(svc))
    if needs_node_ports(svc):
        _init_node_ports(op, svc)
    if needs_health_check(svc):
        _alloc_health_check_port(op, svc)
    op.commit()


def _update_cluster_ips(ctx: _base.WriteContext, config: ServiceConfig, new: _base.Object,
                        old: _base.Object) -> None:
    """`updateClusterIPs`: ExternalName transitions and dual-stack downgrades."""
    if svc_type(old) == ServiceType.EXTERNAL_NAME and svc_type(new) != ServiceType.EXTERNAL_NAME:
        _alloc_cluster_ips(ctx, config, new)
        return
    if is_headless(old):
        return
    old_ips = list(_spec(old).get("clusterIPs") or [])
    if svc_type(old) != ServiceType.EXTERNAL_NAME and svc_type(new) == ServiceType.EXTERNAL_NAME:
        for ip in old_ips:
            release_ip(ctx, owner_of(old), ip)
        return
    new_ips = _spec(new).get("clusterIPs") or []
    if len(old_ips) == 2 and len(new_ips) == 1:
        release_ip(ctx, owner_of(old), old_ips[1])


def _update_node_ports(op: PortOperation, new: _base.Object, old: _base.Object) -> None:
    """`updateNodePorts`: allocate net-new values, release the ones no longer used."""
    old_numbers = node_ports_of(old)
    allocated_now: set[int] = set()
    for i, sp in enumerate(_spec(new).get("ports") or []):
        node_port = int(sp.get("nodePort") or 0)
        if node_port == 0 and not should_allocate_node_ports(new):
            continue
        if node_port:
            if node_port not in old_numbers and node_port not in allocated_now:
                _allocate_port(op, new, i, node_port)
                allocated_now.add(node_port)
        else:
            sp["nodePort"] = _allocate_next_port(op)
    new_numbers = node_ports_of(new)
    for number in old_numbers:
        if number not in new_numbers:
            op.release_deferred(number)


def _update_health_check_port(op: PortOperation, new: _base.Object, old: _base.Object) -> None:
    needed, needs = needs_health_check(old), needs_health_check(new)
    if not needed and needs:
        _alloc_health_check_port(op, new)
    elif needed and not needs:
        op.release_deferred(int(_spec(old).get("healthCheckNodePort") or 0))


def allocate_update(ctx: _base.WriteContext, config: ServiceConfig,
                    new: _base.Object, old: _base.Object) -> None:
    """`allocateUpdate`: type transitions allocate and release inside the write."""
    _update_cluster_ips(ctx, config, new, old)
    op = PortOperation(ctx, config, owner_of(new))
    without_node_ports = (ServiceType.EXTERNAL_NAME, ServiceType.CLUSTER_IP)
    if needs_node_ports(old) and svc_type(new) in without_node_ports:
        for number in node_ports_of(old):
            op.release_deferred(number)
    if needs_node_ports(new):
        _update_node_ports(op, new, old)
    _update_health_check_port(op, new, old)
    op.commit()


def release_all(ctx: _base.WriteContext, svc: _base.Object) -> None:
    """`releaseAllocatedResources`: cluster IPs, nodePorts and the health-check port."""
    owner = owner_of(svc)
    if svc_type(svc) != ServiceType.EXTERNAL_NAME and not is_headless(svc):
        for ip in _spec(svc).get("clusterIPs") or [_spec(svc).get("clusterIP") or ""]:
            if ip:
                release_ip(ctx, owner, ip)
    numbers = node_ports_of(svc)
    if needs_health_check(svc) and _spec(svc).get("healthCheckNodePort"):
        numbers.append(int(_spec(svc)["healthCheckNodePort"]))
    for number in numbers:
        key = f"{PORT_PREFIX}{number}"
        if ctx.get(key) == owner:
            ctx.delete(key)


# ---------------------------------------------------------------- repair


def _claims(services: list[_base.Object], config: ServiceConfig,
            ) -> tuple[dict[str, bytes], dict[str, bytes], list[str]]:
    """Who should own which IP and port, plus lines for values that cannot be owned."""
    ips: dict[str, bytes] = {}
    ports: dict[str, bytes] = {}
    lines: list[str] = []
    first, last = ip_bounds(config)
    lo, hi = config.node_port_range
    for svc in services:
        owner = owner_of(svc)
        who = owner.decode()
        if svc_type(svc) != ServiceType.EXTERNAL_NAME and not is_headless(svc):
            for ip in _spec(svc).get("clusterIPs") or []:
                try:
                    addr = ipaddress.ip_address(ip)
                except ValueError:
                    addr = None
                if addr is None or addr.version != 4 or not first <= int(addr) <= last:
                    lines.append(f"the cluster IP {ip} of Service {who} is not within the "
                                 f"service CIDR {config.service_cidr}; please recreate")
                    continue
                _claim(ips, str(addr), owner, "cluster IP", lines)
        numbers = set(node_ports_of(svc))
        if needs_health_check(svc) and _spec(svc).get("healthCheckNodePort"):
            numbers.add(int(_spec(svc)["healthCheckNodePort"]))
        for number in sorted(numbers):
            if not lo <= number <= hi:
                lines.append(f"the node port {number} of Service {who} is not within the "
                             f"port range {lo}-{hi}; please recreate")
                continue
            _claim(ports, str(number), owner, "node port", lines)
    return ips, ports, lines


def _claim(claims: dict[str, bytes], value: str, owner: bytes, what: str,
           lines: list[str]) -> None:
    holder = claims.setdefault(value, owner)
    if holder != owner:
        lines.append(f"the {what} {value} is assigned to more than one Service "
                     f"({holder.decode()}, {owner.decode()}); please recreate {owner.decode()}")


def _reconcile(ctx: _base.WriteContext, prefix: str, claims: dict[str, bytes], what: str,
               ) -> list[str]:
    lines: list[str] = []
    present = sorted(key[len(prefix):] for key in ctx.keys(prefix))
    for value in present:
        held = ctx.get(prefix + value) or b""
        if value not in claims:
            ctx.delete(prefix + value)
            lines.append(f"released leaked {what} {value} (recorded for {held.decode()})")
        elif held != claims[value]:
            ctx.put(prefix + value, claims[value])
            lines.append(f"the {what} {value} was recorded for {held.decode()}; "
                         f"now recorded for {claims[value].decode()}")
    for value in sorted(set(claims) - set(present), key=_sort_key):
        ctx.put(prefix + value, claims[value])
        lines.append(f"re-recorded missing {what} {value} for {claims[value].decode()}")
    return lines


def _sort_key(value: str) -> tuple[int, str]:
    try:
        return int(ipaddress.ip_address(value)), value
    except ValueError:
        return (int(value), value) if value.isdigit() else (-1, value)


def repair_allocations(ctx: _base.WriteContext, services: list[_base.Object],
                       config: ServiceConfig) -> list[str]:
    """Make the allocation keys exactly match what `services` own; report each fix."""
    ips, ports, lines = _claims(services, config)
    lines += _reconcile(ctx, IP_PREFIX, ips, "cluster IP")
    lines += _reconcile(ctx, PORT_PREFIX, ports, "node port")
    return lines
