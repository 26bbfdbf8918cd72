"""Frontend IP allocation, recomputed from scratch on every sync (pure).

Who owns which address is never kept in memory: it is rebuilt each time from the
Services' own `status.loadBalancer.ingress` (and, for a Service whose status write
was lost, the frontend recorded for its uid in a LoadBalancer object). So a
restart, a missed event or a changed spec all converge to the same answer.

Order of decisions, oldest Service first (creationTimestamp, then namespace/name):
1. keep: an address a Service already has stays with it if it is still in the
   right range (public pool or internal subnet), matches the requested address
   (if any) and no older Service on that address uses one of its ports;
2. request: a Service asking for an address (annotation or spec.loadBalancerIP)
   gets it if it is in range and shared only with Services whose ports differ;
3. auto: the rest take the lowest free public address (never .0 or .255) or the
   highest free internal one (never the subnet's first four, its broadcast or a
   node's address). An exhausted range is an error until an address frees.
An address is shared only between Services whose (protocol, port) pairs differ,
so no address is ever given to two Services by mistake.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

PortKey = tuple[str, int]  # (protocol, port)


@dataclass(frozen=True)
class Candidate:
    uid: str
    key: str  # namespace/name, for messages and ordering
    created: str
    internal: bool
    requested_ip: str | None
    ports: frozenset[PortKey]
    current_ips: tuple[str, ...] = ()  # status.loadBalancer.ingress, then LB object frontends


@dataclass(frozen=True)
class Pools:
    public: ipaddress.IPv4Network
    internal: ipaddress.IPv4Network
    node_addresses: frozenset[str] = frozenset()
    internal_reserved_low: int = 4  # Azure reserves a subnet's first four addresses


@dataclass
class Assignment:
    ips: dict[str, str] = field(default_factory=dict)  # uid -> address
    errors: dict[str, str] = field(default_factory=dict)  # uid -> message


def usable(ip: str, internal: bool, pools: Pools) -> str | None:
    """None if `ip` may be a frontend of that kind, else why not."""
    try:
        addr = ipaddress.IPv4Address(ip)
    except ValueError:
        return f"{ip!r} is not a valid IPv4 address"
    net = pools.internal if internal else pools.public
    kind = "internal subnet" if internal else "public pool"
    if addr not in net:
        return f"{ip} is not in the {kind} {net}"
    if internal:
        low = int(net.network_address) + pools.internal_reserved_low
        if int(addr) < low or addr == net.broadcast_address:
            return f"{ip} is reserved in the internal subnet {net}"
        if ip in pools.node_addresses:
            return f"{ip} is a node's address"
    elif ip.endswith((".0", ".255")):
        return f"{ip} ends in .0 or .255"
    return None


def _order(c: Candidate) -> tuple[str, str]:
    return (c.created, c.key)


def _conflict(ip: str, c: Candidate, occupants: dict[str, list[Candidate]]) -> str | None:
    for other in occupants.get(ip, []):
        shared = sorted(c.ports & other.ports)
        if shared:
            ports = ", ".join(f"{proto}/{port}" for proto, port in shared)
            return f"port {ports} of {ip} is already in use by service {other.key}"
    return None


def _free(internal: bool, pools: Pools, taken: set[str]) -> Iterator[str]:
    if internal:
        net = pools.internal
        low = int(net.network_address) + pools.internal_reserved_low
        for value in range(int(net.broadcast_address) - 1, low - 1, -1):
            ip = str(ipaddress.IPv4Address(value))
            if ip not in taken and ip not in pools.node_addresses:
                yield ip
    else:
        for addr in pools.public:
            ip = str(addr)
            if ip not in taken and not ip.endswith((".0", ".255")):
                yield ip


def assign(candidates: Sequence[Candidate], pools: Pools) -> Assignment:
    """Frontend addresses for `candidates`; see the module docstring for the rules."""
    result = Assignment()
    occupants: dict[str, list[Candidate]] = {}
    ordered = sorted(candidates, key=_order)

    def take(c: Candidate, ip: str) -> None:
        result.ips[c.uid] = ip
        occupants.setdefault(ip, []).append(c)

    for c in ordered:  # 1. keep
        for ip in c.current_ips:
            if c.requested_ip and ip != c.requested_ip:
                continue
            if usable(ip, c.internal, pools) is None and _conflict(ip, c, occupants) is None:
                take(c, ip)
                break
    for c in ordered:  # 2. request
        if c.uid in result.ips or not c.requested_ip:
            continue
        why = usable(c.requested_ip, c.internal, pools) or \
            _conflict(c.requested_ip, c, occupants)
        if why:
            result.errors[c.uid] = f"cannot use requested IP: {why}"
        else:
            take(c, c.requested_ip)
    for c in ordered:  # 3. auto
        if c.uid in result.ips or c.uid in result.errors:
            continue
        free = next(_free(c.internal, pools, set(occupants)), None)
        if free is None:
            kind, net = ("internal subnet", pools.internal) if c.internal else \
                ("public pool", pools.public)
            result.errors[c.uid] = f"no available IPs in {kind} {net}"
        else:
            take(c, free)
    return result
