"""Load balancer model + probe health -> nftables script and policy routes (pure).

The data plane lives in the cloud netns, table `inet portico-lb`:

- chain `prerouting` (filter, priority mangle): replies pass untouched; later
  packets of a flow take the backend remembered in `ct mark`; a new flow is
  dispatched by `ip daddr . meta l4proto . th dport` through the verdict map
  `rules` to the rule's chain; anything else sent to a frontend is dropped.
- chain `rule-<rule>`: security rule (`ip saddr != @allow-<frontend> drop`), then
  the backend choice `ct mark set numgen random mod 60 map @backends-<rule>` (or
  `jhash ip saddr mod 60` for SourceIP), `ct mark 0 drop` when no backend is
  healthy, and `meta mark set ct mark`.
- floating IP: the mark selects a routing table (`ip rule fwmark M lookup M`)
  whose default route is the chosen node, so the packet reaches the node with
  the frontend IP still its destination; the node's Service rules match it.
- floating IP off: chain `nat-prerouting` (nat, priority dstnat) sends the flow
  to `nat-<rule>`, which DNATs to the chosen node's `nodeIP . nodePort` through
  the map `nodeports-<rule>` (mark -> address . port).
No SNAT happens here, so the client address reaches the node.

Idle timeout (TCP rules): table `inet portico-lb-idle` holds one `ct timeout
idle-<M>m` object (policy `established` = M*60 s) and one chain `idle-<M>m`
(`ct timeout set "idle-<M>m"`) per distinct timeout, and the verdict map
`frontends` (`frontend address . port : goto idle-<M>m`) that its prerouting
chain looks new TCP flows up in, so their conntrack entries expire after M idle
minutes instead of the kernel's 5 days. It is a table of its own because
deleting a timeout object detaches it from every flow (they fall back to the
default on their next packet): `portico-lb` is replaced on any structural
change, while this table is only added to (objects and chains, kept once made)
and has its map refilled, in the same `nft -f` transaction.

Health only changes the 60 slots of the `backends-<rule>` maps (slot i -> the
i-th healthy member modulo their count), so a probe flap is rendered as
`flush map` + `add element` of those maps alone; anything else changes
`Ruleset.structure`, which is applied by replacing the whole table in one
transaction (`add table; delete table; table {...}`), atomic as nft -f is.
Marks: 0x10000 + the low 16 bits of the node address (unique in a /16 node subnet).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from portico.cloud.lb.model import (
    BackendMember,
    HealthState,
    LoadBalancer,
    LoadBalancingRule,
    LoadDistribution,
    ProbeTarget,
    TransportProtocol,
    probe_target,
)

FAMILY = "inet"
TABLE = "portico-lb"
CHAIN_PREROUTING = "prerouting"
CHAIN_NAT_PREROUTING = "nat-prerouting"
MAP_RULES = "rules"
MAP_NAT_RULES = "nat-rules"
SET_FRONTEND_IPS = "frontend-ips"
SLOTS = 60  # divisible by 1..6, 10, 12: even spread over small pools
MARK_BASE = 0x10000
ROUTE_RULE_PRIORITY = 1000
IDLE_TABLE = "portico-lb-idle"
MAP_IDLE = "frontends"

Health = Mapping[ProbeTarget, HealthState]


def mark_of(address: str) -> int:
    """The packet mark and routing table number of a backend node."""
    return MARK_BASE + (int(ipaddress.IPv4Address(address)) & 0xFFFF)


def rule_chain(rule: LoadBalancingRule) -> str:
    return f"rule-{rule.name}"


def nat_chain(rule: LoadBalancingRule) -> str:
    return f"nat-{rule.name}"


def backends_map(rule: LoadBalancingRule) -> str:
    return f"backends-{rule.name}"


def nodeports_map(rule: LoadBalancingRule) -> str:
    return f"nodeports-{rule.name}"


def allow_set(frontend: str) -> str:
    return f"allow-{frontend}"


def idle_name(minutes: int) -> str:
    """The `ct timeout` object (and the chain setting it) of an idle timeout."""
    return f"idle-{minutes}m"


@dataclass(frozen=True)
class PolicyRoute:
    """`ip rule add fwmark M lookup M` + `ip route replace default via <gateway> table M`."""

    mark: int
    gateway: str


@dataclass(frozen=True)
class IdleTimeout:
    """New TCP flows to `frontend_ip`:`port` are forgotten after `minutes` idle."""

    frontend_ip: str
    port: int
    minutes: int


@dataclass(frozen=True)
class Ruleset:
    structure: str  # the table without the backends maps' elements
    backends: dict[str, tuple[str, ...]] = field(default_factory=dict, hash=False)
    routes: tuple[PolicyRoute, ...] = ()
    idle: tuple[IdleTimeout, ...] = ()  # what the idle table's map holds


def healthy_members(lb: LoadBalancer, rule: LoadBalancingRule, health: Health
                    ) -> list[BackendMember]:
    """Pool members the rule may send new flows to: all, or those whose probe is Up."""
    members = list(lb.backend_address_pool.members)
    probe = lb.probe(rule.probe) if rule.probe else None
    if probe is None:
        return members
    return [m for m in members if health.get(probe_target(probe, m)) == HealthState.UP]


def slot_elements(members: Sequence[BackendMember]) -> tuple[str, ...]:
    if not members:
        return ()
    return tuple(f"{i} : {mark_of(members[i % len(members)].ip_address):#x}"
                 for i in range(SLOTS))


def _map(name: str, declaration: str, elements: Sequence[str] = ()) -> list[str]:
    lines = [f"\tmap {name} {{", f"\t\t{declaration}"]
    if elements:
        lines.append(f"\t\telements = {{ {', '.join(elements)} }}")
    return [*lines, "\t}"]


def _rule_lines(lb: LoadBalancer, rule: LoadBalancingRule) -> list[str]:
    frontend = lb.frontend(rule.frontend_ip_configuration)
    chooser = "jhash ip saddr mod" if rule.load_distribution == LoadDistribution.SOURCE_IP \
        else "numgen random mod"
    lines = [f"\tchain {rule_chain(rule)} {{"]
    if frontend is not None and frontend.allowed_source_ranges:
        lines.append(f"\t\tip saddr != @{allow_set(frontend.name)} drop")
    lines += [f"\t\tct mark set {chooser} {SLOTS} map @{backends_map(rule)}",
              "\t\tct mark 0 drop", "\t\tmeta mark set ct mark", "\t}"]
    lines += _map(backends_map(rule), f"typeof numgen random mod {SLOTS} : meta mark")
    if not rule.enable_floating_ip:
        proto = rule.protocol.value.lower()
        lines += [f"\tchain {nat_chain(rule)} {{",
                  f"\t\tmeta l4proto {proto} dnat ip to ct mark map @{nodeports_map(rule)}",
                  "\t}"]
        lines += _map(nodeports_map(rule), "type mark : ipv4_addr . inet_service",
                      [f"{mark_of(m.ip_address):#x} : {m.ip_address} . {rule.backend_port}"
                       for m in lb.backend_address_pool.members])
    return lines


def _dispatch(rule: LoadBalancingRule, chain: str) -> str:
    proto = rule.protocol.value.lower()
    return f"{rule.frontend_ip} . {proto} . {rule.frontend_port} : goto {chain}"


def _header(lbs: Sequence[LoadBalancer]) -> list[str]:
    rules = [r for lb in lbs for r in lb.load_balancing_rules]
    frontends = sorted({f.ip for lb in lbs for f in lb.frontend_ip_configurations},
                       key=ipaddress.IPv4Address)
    key = "type ipv4_addr . inet_proto . inet_service : verdict"
    lines = [f"table {FAMILY} {TABLE} {{",
             f"\tchain {CHAIN_PREROUTING} {{",
             "\t\ttype filter hook prerouting priority mangle; policy accept;",
             "\t\tct direction reply return",
             "\t\tct state != new meta mark set ct mark return",
             f"\t\tip daddr . meta l4proto . th dport vmap @{MAP_RULES}",
             f"\t\tip daddr @{SET_FRONTEND_IPS} drop",
             "\t}",
             f"\tchain {CHAIN_NAT_PREROUTING} {{",
             "\t\ttype nat hook prerouting priority dstnat; policy accept;",
             f"\t\tip daddr . meta l4proto . th dport vmap @{MAP_NAT_RULES}",
             "\t}"]
    lines += _map(MAP_RULES, key, [_dispatch(r, rule_chain(r)) for r in rules])
    lines += _map(MAP_NAT_RULES, key, [_dispatch(r, nat_chain(r)) for r in rules
                                      if not r.enable_floating_ip])
    lines += [f"\tset {SET_FRONTEND_IPS} {{", "\t\ttype ipv4_addr"]
    if frontends:
        lines.append(f"\t\telements = {{ {', '.join(frontends)} }}")
    lines.append("\t}")
    return lines


def render(lbs: Sequence[LoadBalancer], health: Health) -> Ruleset:
    """The whole data plane of `lbs` given the probes' `health`."""
    lines = _header(lbs)
    backends: dict[str, tuple[str, ...]] = {}
    for lb in lbs:
        for frontend in lb.frontend_ip_configurations:
            if frontend.allowed_source_ranges:
                lines += [f"\tset {allow_set(frontend.name)} {{", "\t\ttype ipv4_addr",
                          "\t\tflags interval",
                          f"\t\telements = {{ {', '.join(frontend.allowed_source_ranges)} }}",
                          "\t}"]
        for rule in lb.load_balancing_rules:
            lines += _rule_lines(lb, rule)
            backends[backends_map(rule)] = slot_elements(healthy_members(lb, rule, health))
    lines.append("}")
    members = {m.ip_address for lb in lbs for m in lb.backend_address_pool.members}
    routes = tuple(PolicyRoute(mark_of(ip), ip)
                   for ip in sorted(members, key=ipaddress.IPv4Address))
    return Ruleset("\n".join(lines) + "\n", backends, routes, idle_timeouts(lbs))


def idle_timeouts(lbs: Sequence[LoadBalancer]) -> tuple[IdleTimeout, ...]:
    """The idle timeout of every TCP rule (Azure applies it to TCP only)."""
    found = {IdleTimeout(r.frontend_ip, r.frontend_port, r.idle_timeout_in_minutes)
             for lb in lbs for r in lb.load_balancing_rules
             if r.protocol == TransportProtocol.TCP}
    return tuple(sorted(found, key=lambda t: (ipaddress.IPv4Address(t.frontend_ip), t.port)))


def idle_script(idle: Sequence[IdleTimeout]) -> str:
    """Idempotent commands making table IDLE_TABLE match `idle`.

    Objects and chains are only added (a flow keeps the timeout object it was
    given for its lifetime); the prerouting rule and the map are rewritten.
    """
    t = f"{FAMILY} {IDLE_TABLE}"
    lines = [f"add table {t}",
             f"add chain {t} {CHAIN_PREROUTING} {{ type filter hook prerouting "
             "priority mangle; policy accept; }",
             f"add map {t} {MAP_IDLE} {{ type ipv4_addr . inet_service : verdict; }}"]
    for minutes in sorted({i.minutes for i in idle}):
        name = idle_name(minutes)
        lines += [f"add ct timeout {t} {name} {{ protocol tcp; l3proto ip; "
                  f"policy = {{ established: {minutes * 60} }}; }}",
                  f"add chain {t} {name}", f"flush chain {t} {name}",
                  f'add rule {t} {name} ct timeout set "{name}"']
    lines += [f"flush chain {t} {CHAIN_PREROUTING}",
              f"add rule {t} {CHAIN_PREROUTING} ct state new meta l4proto tcp "
              f"ip daddr . th dport vmap @{MAP_IDLE}",
              f"flush map {t} {MAP_IDLE}"]
    if idle:
        elements = ", ".join(f"{i.frontend_ip} . {i.port} : goto {idle_name(i.minutes)}"
                             for i in idle)
        lines.append(f"add element {t} {MAP_IDLE} {{ {elements} }}")
    return "\n".join(lines) + "\n"


def _elements(name: str, elements: Sequence[str]) -> str:
    return f"add element {FAMILY} {TABLE} {name} {{ {', '.join(elements)} }}\n"


def script(previous: Ruleset | None, current: Ruleset) -> str:
    """The nft -f script taking the kernel from `previous` to `current` ("" if nothing)."""
    idle = idle_script(current.idle) if previous is None or previous.idle != current.idle \
        else ""
    if previous is None or previous.structure != current.structure:
        text = f"add table {FAMILY} {TABLE}\ndelete table {FAMILY} {TABLE}\n" + current.structure
        return text + "".join(_elements(n, e) for n, e in sorted(current.backends.items())
                              if e) + idle
    text = ""
    for name, elements in sorted(current.backends.items()):
        if previous.backends.get(name) != elements:
            text += f"flush map {FAMILY} {TABLE} {name}\n"
            if elements:
                text += _elements(name, elements)
    return text + idle
