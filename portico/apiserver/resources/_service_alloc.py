"""ClusterIP and NodePort allocation for Services, as kube-apiserver's `storage/alloc.go`.

Theory of operation: every allocated value is one key in the store, written in the
same transaction as the Service itself, so an allocation and the object that owns
it commit or roll back together (kube needs a separate revert path; we do not):

    /registry/ranges/serviceips/<ip>          value b"<namespace>/<name>"
    /registry/ranges/servicenodeports/<port>  value b"<namespace>/<name>"

Ranges follow KEP-3070 / KEP-3668: the first `offset` values of a range form a
static band that dynamic allocation only uses once the upper band is full, so
users can pick static values without racing the allocator. Dynamic picks start at
a random point of a band and scan forward with wrap-around (kube's `ipIterator`
and `randomScanStrategyWithOffset`); with `random_allocation=False` the scan starts
at the band's first value, which makes allocations predictable for tests. The
cluster DNS address (the 10th of the range) is never handed out dynamically.

The create/update/release entry points mirror `allocateCreate`, `allocateUpdate`
and `releaseAllocatedResources`; failures raise `StatusError` with kube's wording.
A requested address outside the range gets the bitmap allocator's `ErrNotInRange`
("the provided IP (X) is not in the valid range. The range of valid IPs is CIDR"):
Portico has one `--service-cluster-ip-range` and no ServiceCIDR API, as a
kube-apiserver without MultiCIDRServiceAllocator (1.32's default), and tools
(vcluster, submariner, ...) parse that sentence to discover the service CIDR.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from portico.apiserver.errors import StatusError, invalid, invalid_object
from portico.apiserver.resources import _base

IP_PREFIX = "/registry/ranges/serviceips/"
PORT_PREFIX = "/registry/ranges/servicenodeports/"

ERR_FULL = "range is full"
ERR_IP_ALLOCATED = "provided IP is already allocated"
ERR_PORT_ALLOCATED = "provided port is already allocated"

_SYSTEM_RANDOM = random.SystemRandom()


@dataclass(frozen=True)
class ServiceConfig:
    """The API server's `--service-cluster-ip-range` and `--service-node-port-range`."""

    service_cidr: ipaddress.IPv4Network = ipaddress.IPv4Network("10.0.0.0/16")
    node_port_range: tuple[int, int] = (30000, 32767)
    # the API server's address that pods reach, for the kubernetes Service endpoints
    api_server_address: str = ""
    # False: dynamic picks take the lowest free value of a band (deterministic tests)
    random_allocation: bool = True


def range_offset(size: int, low: int, high: int, step: int) -> int:
    """`calculateRangeOffset`: min(max(low, size/step), high), 0 for ranges of <= low values."""
    if size <= low:
        return 0
    return min(max(low, size // step), high)


def ip_offset(config: ServiceConfig) -> int:
    return range_offset(config.service_cidr.num_addresses, 16, 256, 16)


def port_offset(config: ServiceConfig) -> int:
    lo, hi = config.node_port_range
    return range_offset(hi - lo + 1, 16, 128, 32)


def ip_bounds(config: ServiceConfig) -> tuple[int, int]:
    """First and last assignable addresses (no network, no broadcast address), as ints."""
    net = config.service_cidr
    return int(net.network_address) + 1, int(net.broadcast_address) - 1


def nth_ip(config: ServiceConfig, n: int) -> str:
    return str(config.service_cidr.network_address + n)


def dns_service_ip(config: ServiceConfig) -> str:
    """The 10th address of the range (10.0.0.10), kept for the cluster DNS Service."""
    return nth_ip(config, 10)


def kubernetes_service_ip(config: ServiceConfig) -> str:
    """The first address of the range (10.0.0.1), the `kubernetes` Service."""
    return nth_ip(config, 1)


def owner_of(svc: _base.Object) -> bytes:
    meta = svc.get("metadata") or {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}".encode()


def _taken(ctx: _base.WriteContext, prefix: str) -> Callable[[str], bool]:
    """A point lookup per candidate: O(1) per try however many values are allocated."""
    return lambda value: ctx.get(prefix + value) is not None


def _scan(lo: int, hi: int, taken: Callable[[int], bool], config: ServiceConfig) -> int | None:
    """The first free value of [lo, hi] from a (random) start, wrapping around."""
    size = hi - lo + 1
    if size <= 0:
        return None
    start = _SYSTEM_RANDOM.randrange(size) if config.random_allocation else 0
    for i in range(size):
        value = lo + (start + i) % size
        if not taken(value):
            return value
    return None


def _next_free(lo: int, hi: int, offset: int, taken: Callable[[int], bool],
               config: ServiceConfig) -> int | None:
    """Upper band [lo+offset, hi] first, then the static band [lo, lo+offset-1]."""
    found = _scan(lo + offset, hi, taken, config)
    if found is None and offset:
        found = _scan(lo, lo + offset - 1, taken, config)
    return found


# ---------------------------------------------------------------- cluster IPs


def allocate_ip(ctx: _base.WriteContext, config: ServiceConfig, owner: bytes, ip: str) -> str:
    """Reserve `ip` ("" = any free one); returns it, or raises `AllocationError`."""
    first, last = ip_bounds(config)
    if ip == "":
        used = _taken(ctx, IP_PREFIX)
        dns = int(ipaddress.IPv4Address(dns_service_ip(config)))

        def taken(value: int) -> bool:
            return value == dns or used(str(ipaddress.IPv4Address(value)))

        found = _next_free(first, last, ip_offset(config), taken, config)
        if found is None:
            raise AllocationError(ERR_FULL)
        chosen = str(ipaddress.IPv4Address(found))
    else:
        chosen = _in_range(config, ip, first, last)
        if ctx.get(IP_PREFIX + chosen) is not None:
            raise AllocationError(ERR_IP_ALLOCATED)
    ctx.put(IP_PREFIX + chosen, owner)
    return chosen


def _in_range(config: ServiceConfig, ip: str, first: int, last: int) -> str:
    """`ip` normalized, or `ErrNotInRange` naming the range (the bitmap allocator's
    answer; the network and broadcast addresses are outside it too)."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        address = None
    if address is None or address.version != 4 or not first <= int(address) <= last:
        raise AllocationError(
            f"the provided IP ({ip}) is not in the valid range. "
            f"The range of valid IPs is {config.service_cidr}")
    return str(address)


def release_ip(ctx: _base.WriteContext, owner: bytes, ip: str) -> None:
    """Free `ip` if this owner holds it (releasing anything else is a no-op)."""
    key = IP_PREFIX + ip
    if ctx.get(key) == owner:
        ctx.delete(key)


class AllocationError(Exception):
    """An allocator's own error text (`ErrFull`, `ErrAllocated`, ...)."""


# ---------------------------------------------------------------- node ports


class PortOperation:
    """`PortAllocationOperation`: allocations happen now, releases at `commit`."""

    def __init__(self, ctx: _base.WriteContext, config: ServiceConfig, owner: bytes) -> None:
        self.ctx, self.config, self.owner = ctx, config, owner
        self.deferred: list[int] = []

    def allocate(self, port: int) -> None:
        lo, hi = self.config.node_port_range
        if not lo <= port <= hi:
            raise AllocationError(
                "provided port is not in the valid range. "
                f"The range of valid ports is {lo}-{hi}"
            )
        key = f"{PORT_PREFIX}{port}"
        if self.ctx.get(key) is not None:
            raise AllocationError(ERR_PORT_ALLOCATED)
        self.ctx.put(key, self.owner)

    def allocate_next(self) -> int:
        lo, hi = self.config.node_port_range
        used = _taken(self.ctx, PORT_PREFIX)
        found = _next_free(lo, hi, port_offset(self.config), lambda p: used(str(p)),
                           self.config)
        if found is None:
            raise AllocationError(ERR_FULL)
        self.ctx.put(f"{PORT_PREFIX}{found}", self.owner)
        return found

    def release_deferred(self, port: int) -> None:
        self.deferred.append(port)

    def commit(self) -> None:
        for port in self.deferred:
            key = f"{PORT_PREFIX}{port}"
            if self.ctx.get(key) == self.owner:
                self.ctx.delete(key)


def node_port_error(svc: _base.Object, index: int, port: int, err: AllocationError) -> StatusError:
    name = (svc.get("metadata") or {}).get("name", "")
    errs = [invalid(f"spec.ports[{index}].nodePort", port, str(err))]
    return invalid_object("Service", name, errs)


def cluster_ip_error(svc: _base.Object, ip: str, err: AllocationError) -> StatusError:
    name = (svc.get("metadata") or {}).get("name", "")
    shown: Any = list(svc.get("spec", {}).get("clusterIPs") or [])
    return invalid_object(
        "Service", name, [invalid("spec.clusterIPs", shown, f"failed to allocate IP {ip}: {err}")]
    )
