"""Render the policy model into the `inet portico-netpol` table of one node (pure).

Theory of operation. The table sits beside `inet portico-proxy` in the node netns and
filters on the postrouting hook, where every packet a node forwards or sends
passes once, after the Service DNAT (so policies see the chosen endpoint, as
kube-network-policies and kube-proxy's nftables mode arrange it):

- base chain `egress` (priority 90, before the source NAT at 100): replies and
  known connections pass (`ct state established,related accept`); a new
  connection from a local pod isolated for egress goes, through the verdict map
  `egress-pods` (pod IP -> `jump egress-<ip>`), to that pod's chain.
- base chain `ingress` (priority 110, after the source NAT, so it sees what the
  pod sees: the client of an `externalTrafficPolicy: Local` NodePort, the node's
  address for `Cluster`): known connections pass, traffic from this node's own
  addresses passes (pods cannot block their node), and a new connection to a
  local pod isolated for ingress goes through `ingress-pods` to `ingress-<ip>`.
- a pod chain accepts the pod's traffic to itself, jumps to the chain of every
  policy that selects the pod for that direction (in policy key order), and drops
  what none of them accepted: the union of the policies' allows.
- a policy chain `np-<hash>-in` / `np-<hash>-out` has per rule and protocol one
  `counter accept` rule: `ip saddr|daddr @<chain>-<i>` (peers: an interval set of
  pod addresses and ipBlocks minus their excepts, collapsed) and `meta l4proto P
  th dport { ports }`; named ports are resolved per destination pod into a set
  `<chain>-<i>-named` of pod IP . protocol . port, matched on `ip daddr`.

Everything a policy contributes is one `Fragment`, rendered only when the policy
selects a pod on this node (others cost this node nothing); the pod chains and maps
are the `base` fragment. `diff.py` turns changed fragments into one transaction.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from portico.netpol.model import (
    Cluster,
    Direction,
    Pod,
    Policy,
    PolicyRule,
    PortSpec,
    Protocol,
    peer_selects,
)
from portico.proxy.nftables import Chain, ChainType, Element, Hook, Map, Set

TABLE = "portico-netpol"
BASE = "base"
EGRESS_CHAIN = "egress"
INGRESS_CHAIN = "ingress"
EGRESS_PODS_MAP = "egress-pods"
INGRESS_PODS_MAP = "ingress-pods"
EGRESS_PRIORITY = "90"
"""Before the source NAT (srcnat = 100): the pod's own address, the post-DNAT endpoint."""
INGRESS_PRIORITY = "110"
"""After the source NAT: the address the destination pod will see."""
NAMED_TYPE = "ipv4_addr . inet_proto . inet_service"
_SHORT = {Direction.INGRESS: "in", Direction.EGRESS: "out"}


@dataclass(frozen=True)
class ChainSpec:
    chain: Chain
    rules: tuple[str, ...] = ()


@dataclass(frozen=True)
class SetSpec:
    set: Set
    elements: frozenset[Element] = frozenset()


@dataclass(frozen=True)
class Fragment:
    """What one policy (or the base) puts in the table."""

    chains: Mapping[str, ChainSpec] = field(default_factory=dict)
    sets: Mapping[str, SetSpec] = field(default_factory=dict)
    targets: Mapping[Direction, frozenset[str]] = field(default_factory=dict)
    """The local pod IPs the policy isolates, per direction."""


def policy_chain(policy_key: str, direction: Direction) -> str:
    digest = hashlib.sha256(policy_key.encode()).hexdigest()[:8]
    return f"np-{digest}-{_SHORT[direction]}"


class Selection:
    """Memoized pod selection over one snapshot (policies share selectors)."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.by_namespace: dict[str, list[Pod]] = defaultdict(list)
        for pod in cluster.pods.values():
            self.by_namespace[pod.namespace].append(pod)

    def targets(self, policy: Policy, node: str) -> list[Pod]:
        return [p for p in self.by_namespace.get(policy.namespace, ())
                if p.node == node and policy.pod_selector.matches(dict(p.labels))]

    def peer_pods(self, policy: Policy, rule: PolicyRule) -> list[Pod]:
        """Pods any pod peer of the rule selects; every pod when the rule has no peer."""
        if not rule.peers:
            return list(self.cluster.pods.values())
        found: dict[str, Pod] = {}
        for peer in rule.peers:
            if peer.cidr is not None:
                continue
            namespaces = ([policy.namespace] if peer.namespace_selector is None
                          else list(self.by_namespace))
            for ns in namespaces:
                for pod in self.by_namespace.get(ns, ()):
                    if peer_selects(policy, peer, pod, self.cluster.namespaces):
                        found[pod.ip] = pod
        return list(found.values())


def _collapse(addresses: Iterable[str], networks: Iterable[ipaddress.IPv4Network]
              ) -> list[str]:
    nets = [ipaddress.IPv4Network(a) for a in addresses] + list(networks)
    return [str(n.network_address) if n.prefixlen == 32 else str(n)
            for n in ipaddress.collapse_addresses(nets)]


def _port_rules(prefix: str, specs: Iterable[PortSpec]) -> list[str]:
    """One `meta l4proto P [th dport { ... }]` rule per protocol, ranges merged."""
    ranges: dict[Protocol, list[tuple[int, int]] | None] = {}
    for spec in specs:
        if spec.port is None:
            ranges[spec.protocol] = None
        elif isinstance(spec.port, int) and ranges.get(spec.protocol, []) is not None:
            ranges.setdefault(spec.protocol, []).append(  # type: ignore[union-attr]
                (spec.port, spec.end_port or spec.port))
    rules = []
    for protocol in sorted(ranges):
        spans = ranges[protocol]
        match = f"meta l4proto {protocol.lower()}"
        if spans is not None:
            match += " th dport { " + ", ".join(_merge(spans)) + " }"
        rules.append(f"{prefix}{match} counter accept")
    return rules


def _merge(spans: list[tuple[int, int]]) -> list[str]:
    merged: list[list[int]] = []
    for lo, hi in sorted(spans):
        if merged and lo <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    return [str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in merged]


def _named_elements(name: str, specs: Iterable[PortSpec], pods: Iterable[Pod]
                    ) -> frozenset[Element]:
    out = set()
    for spec in specs:
        for pod in pods:
            port = pod.named_port(str(spec.port), spec.protocol)
            if port is not None:
                out.add(Element(name, (pod.ip, spec.protocol.lower(), str(port))))
    return frozenset(out)


def _rule_objects(policy: Policy, direction: Direction, index: int, rule: PolicyRule,
                  targets: list[Pod], selection: Selection
                  ) -> tuple[list[str], dict[str, SetSpec]]:
    chain = policy_chain(policy.key, direction)
    sets: dict[str, SetSpec] = {}
    prefix = ""
    peer_pods: list[Pod] | None = None
    if rule.peers:
        name = f"{chain}-{index}"
        peer_pods = selection.peer_pods(policy, rule)
        blocks = [net for peer in rule.peers for net in peer.networks()]
        elements = frozenset(Element(name, (text,))
                             for text in _collapse((p.ip for p in peer_pods), blocks))
        sets[name] = SetSpec(Set(name, "ipv4_addr", ("interval",)), elements)
        prefix = f"ip {'saddr' if direction is Direction.INGRESS else 'daddr'} @{name} "
    if not rule.ports:
        return [f"{prefix}counter accept"], sets
    rules = _port_rules(prefix, (s for s in rule.ports if not isinstance(s.port, str)))
    named = [s for s in rule.ports if isinstance(s.port, str)]
    if named:
        name = f"{chain}-{index}-named"
        destinations = (targets if direction is Direction.INGRESS else
                        peer_pods if peer_pods is not None else selection.peer_pods(policy, rule))
        sets[name] = SetSpec(Set(name, NAMED_TYPE), _named_elements(name, named, destinations))
        rules.append(f"{prefix}ip daddr . meta l4proto . th dport @{name} counter accept")
    return rules, sets


def render_policy(policy: Policy, node: str, selection: Selection) -> Fragment:
    """A policy's chains and sets on `node`; empty when it selects no pod there."""
    targets = selection.targets(policy, node)
    if not targets:
        return Fragment()
    chains: dict[str, ChainSpec] = {}
    sets: dict[str, SetSpec] = {}
    isolated: dict[Direction, frozenset[str]] = {}
    for direction in sorted(policy.types):
        rules: list[str] = []
        for i, rule in enumerate(policy.rules(direction)):
            texts, rule_sets = _rule_objects(policy, direction, i, rule, targets, selection)
            rules += texts
            sets.update(rule_sets)
        name = policy_chain(policy.key, direction)
        chains[name] = ChainSpec(Chain(name, comment=f"{policy.key} {direction}"), tuple(rules))
        isolated[direction] = frozenset(p.ip for p in targets)
    return Fragment(chains, sets, isolated)


def render_base(fragments: Mapping[str, Fragment], node_addresses: Iterable[str]) -> Fragment:
    """The base chains, the pod maps and one chain per isolated local pod and direction."""
    jumps: dict[tuple[Direction, str], list[str]] = defaultdict(list)
    for key in sorted(fragments):
        for direction, ips in fragments[key].targets.items():
            for ip in ips:
                jumps[(direction, ip)].append(policy_chain(key, direction))
    local = ", ".join(sorted(node_addresses))
    chains = {
        EGRESS_CHAIN: ChainSpec(
            Chain(EGRESS_CHAIN, ChainType.FILTER, Hook.POSTROUTING, EGRESS_PRIORITY),
            ("ct state established,related accept", f"ip saddr vmap @{EGRESS_PODS_MAP}")),
        INGRESS_CHAIN: ChainSpec(
            Chain(INGRESS_CHAIN, ChainType.FILTER, Hook.POSTROUTING, INGRESS_PRIORITY),
            ("ct state established,related accept", f"ip saddr {{ {local} }} accept",
             f"ip daddr vmap @{INGRESS_PODS_MAP}")),
    }
    maps: dict[Direction, set[Element]] = {Direction.INGRESS: set(), Direction.EGRESS: set()}
    for (direction, ip), policy_chains in sorted(jumps.items()):
        name = f"{direction.lower()}-{ip}"
        self_match = f"ip {'saddr' if direction is Direction.INGRESS else 'daddr'} {ip} accept"
        chains[name] = ChainSpec(Chain(name), (self_match, *(f"jump {c}" for c in policy_chains),
                                               "drop"))
        container = INGRESS_PODS_MAP if direction is Direction.INGRESS else EGRESS_PODS_MAP
        maps[direction].add(Element(container, (ip,), (f"jump {name}",)))
    sets = {name: SetSpec(Map(name, "ipv4_addr : verdict"), frozenset(maps[direction]))
            for name, direction in ((INGRESS_PODS_MAP, Direction.INGRESS),
                                    (EGRESS_PODS_MAP, Direction.EGRESS))}
    return Fragment(chains, sets)
