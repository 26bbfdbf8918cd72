"""Render the policy model into the `inet portico-netpol` table of one node (pure).

Theory of operation. The table sits beside `inet portico-proxy` in the node netns and
filters on the postrouting hook, where every packet a node forwards or sends
passes once, after the Service DNAT (so policies see the chosen endpoint, as
kube-network-policies and kube-proxy's nftables mode arrange it):

- base chain `egress` (priority 90, before the source NAT at 100): replies and
  known connections pass (`ct state established,related accept`); a new
  connection from a local pod isolated for egress goes, through the verdict map
  `egress-pods` (pod IP -> `jump egress-<hash>`), to its pod group's chain.
- base chain `ingress` (priority 110, after the source NAT, so it sees what the
  pod sees: the client of an `externalTrafficPolicy: Local` NodePort, the node's
  address for `Cluster`): known connections pass, traffic from this node's own
  addresses passes (pods cannot block their node), and a new connection to a
  local pod isolated for ingress goes through `ingress-pods` to `ingress-<hash>`.
- a pod's traffic to itself passes (`ip saddr . ip daddr @self`); a new connection
  of an isolated pod jumps to its group chain `<direction>-<hash>`, shared by the
  local pods that the same policies select: the rules of every selecting policy in
  policy key order, then `drop` (the union of the policies' allows). Per rule and
  protocol one `... counter accept comment "<ns>/<name> <Direction>"`: `ip
  saddr|daddr @peers-<hash>` and `meta l4proto P th dport N[-M]`; named ports
  are resolved per destination pod into a set `np-<hash>-<in|out>-<i>-named` of pod
  IP . protocol . port, matched on `ip daddr`. Policies have no chains of their
  own and rules no anonymous sets: `nft` loads every chain and set of the table into
  its cache for each transaction, even an element-only one, so they price every
  sync (1,000 policy chains, or 1,300 anonymous port sets, made a one-element change
  cost 40-100 ms of `nft` instead of about 1).
- a peer set `peers-<hash>` holds the pod addresses of one rule's peers (an interval
  set when the peers have ipBlocks: those minus their excepts, collapsed, and the
  pods inside them left out); it is named after the peers (and the namespace they
  are relative to), so every rule with the same peers shares one set, as Cilium
  shares identities: peers repeat far more than policies.

Everything a policy contributes (its rules, its named-port sets, the pods it
isolates) is one `Fragment`, rendered only when the policy selects a pod on this node
(others cost this node nothing); each peer set in use is a fragment of its own; the
group chains and maps are the `base` fragment. `diff.py` turns changed fragments into
one transaction.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from portico.model.selectors import LabelSelector
from portico.model.vocabulary import Protocol
from portico.netpol.model import (
    Cluster,
    Direction,
    Labels,
    Peer,
    Pod,
    Policy,
    PolicyRule,
    PortSpec,
    peer_selects,
)
from portico.proxy.nftables import Chain, ChainType, Element, Hook, Map, Set

TABLE = "portico-netpol"
BASE = "base"
EGRESS_CHAIN = "egress"
INGRESS_CHAIN = "ingress"
EGRESS_PODS_MAP = "egress-pods"
INGRESS_PODS_MAP = "ingress-pods"
SELF_SET = "self"
"""pod . pod for every isolated local pod: a pod's traffic to itself always passes."""
EGRESS_PRIORITY = "90"
"""Before the source NAT (srcnat = 100): the pod's own address, the post-DNAT endpoint."""
INGRESS_PRIORITY = "110"
"""After the source NAT: the address the destination pod will see."""
NAMED_TYPE = "ipv4_addr . inet_proto . inet_service"
_SHORT = {Direction.INGRESS: "in", Direction.EGRESS: "out"}


PeerKey = tuple[str, tuple[Peer, ...]]
"""A rule's peers and the namespace they are relative to ("" when none is)."""


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
    peers: frozenset[PeerKey] = frozenset()
    """The shared peer sets the policy's rules use."""
    rules: Mapping[Direction, tuple[str, ...]] = field(default_factory=dict)
    """The policy's rules per direction, each ending in `counter accept comment "ns/name
    Direction"` (the comment names the policy for the per-policy counters)."""


def policy_prefix(policy_key: str, direction: Direction) -> str:
    """The prefix of the names of a policy's own sets."""
    digest = hashlib.sha256(policy_key.encode()).hexdigest()[:8]
    return f"np-{digest}-{_SHORT[direction]}"


def rule_comment(policy_key: str, direction: Direction) -> str:
    return f"{policy_key} {direction}"


def peer_key(namespace: str, peers: tuple[Peer, ...]) -> PeerKey:
    relative = any(p.cidr is None and p.namespace_selector is None for p in peers)
    return (namespace if relative else "", peers)


@functools.lru_cache(maxsize=1 << 14)
def peer_set_name(key: PeerKey) -> str:
    """Named after the peers (memoized: a sync asks for the names of every set it touches)."""
    return f"peers-{hashlib.sha256(repr(key).encode()).hexdigest()[:12]}"


def peer_key_selects(key: PeerKey, pod: Pod, namespaces: Mapping[str, Labels]) -> bool:
    return any(peer_selects(key[0], peer, pod, namespaces) for peer in key[1])


class Selection:
    """Memoized pod selection over one snapshot (policies share selectors)."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self._targets: dict[tuple[str, LabelSelector, str], list[Pod]] = {}
        self._peers: dict[PeerKey, list[Pod]] = {}

    @functools.cached_property
    def by_namespace(self) -> dict[str, list[Pod]]:
        """The pods by namespace, indexed on first use (a peer-only plan needs none)."""
        index: dict[str, list[Pod]] = defaultdict(list)
        for pod in self.cluster.pods.values():
            index[pod.namespace].append(pod)
        return index

    def targets(self, policy: Policy, node: str) -> list[Pod]:
        memo = (policy.namespace, policy.pod_selector, node)
        if memo not in self._targets:
            self._targets[memo] = [p for p in self.by_namespace.get(policy.namespace, ())
                                   if p.node == node and policy.pod_selector.matches(p.label_map)]
        return self._targets[memo]

    def peer_pods(self, key: PeerKey) -> list[Pod]:
        """Pods any pod peer of the key selects; every pod when there is no peer."""
        if key not in self._peers:
            namespace, peers = key
            if not peers:
                self._peers[key] = list(self.cluster.pods.values())
            else:
                scope = (list(self.by_namespace) if namespace == "" or any(
                    p.namespace_selector is not None for p in peers) else [namespace])
                self._peers[key] = [pod for ns in scope for pod in self.by_namespace.get(ns, ())
                                    if peer_key_selects(key, pod, self.cluster.namespaces)]
        return self._peers[key]


def _interval_elements(addresses: Iterable[str], networks: Iterable[ipaddress.IPv4Network]
                       ) -> list[str]:
    """Non-overlapping elements for an interval set: the networks collapsed, and each
    address not inside one of them (addresses stay single: no per-change collapsing)."""
    blocks = list(ipaddress.collapse_addresses(networks))
    ranges = [(int(n.network_address), int(n.broadcast_address)) for n in blocks]
    out = [str(n.network_address) if n.prefixlen == 32 else str(n) for n in blocks]
    if not ranges:
        return out + list(addresses)
    for address in addresses:
        value = int.from_bytes(bytes(int(octet) for octet in address.split(".")), "big")
        if not any(lo <= value <= hi for lo, hi in ranges):
            out.append(address)
    return out


def _port_rules(prefix: str, specs: Iterable[PortSpec]) -> list[str]:
    """`meta l4proto P [th dport N[-M]]` rules: per protocol, per merged port range."""
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
        match = f"{prefix}meta l4proto {protocol.lower()}"
        # one rule per port or range, never an anonymous set `{ 80, 81 }`: `nft` loads
        # every set of the table, anonymous ones too, into its cache for each
        # transaction (1,300 of them made a one-element change cost 100 ms, not 1)
        rules += ([f"{match} counter accept"] if spans is None else
                  [f"{match} th dport {span} counter accept" for span in _merge(spans)])
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
                  ) -> tuple[list[str], dict[str, SetSpec], PeerKey | None]:
    prefix_name = policy_prefix(policy.key, direction)
    sets: dict[str, SetSpec] = {}
    prefix = ""
    key = peer_key(policy.namespace, rule.peers)
    if rule.peers:
        addr = "saddr" if direction is Direction.INGRESS else "daddr"
        prefix = f"ip {addr} @{peer_set_name(key)} "
    if not rule.ports:
        return [f"{prefix}counter accept"], sets, key if rule.peers else None
    rules = _port_rules(prefix, (s for s in rule.ports if not isinstance(s.port, str)))
    named = [s for s in rule.ports if isinstance(s.port, str)]
    if named:
        name = f"{prefix_name}-{index}-named"
        destinations = targets if direction is Direction.INGRESS else selection.peer_pods(key)
        sets[name] = SetSpec(Set(name, NAMED_TYPE), _named_elements(name, named, destinations))
        rules.append(f"{prefix}ip daddr . meta l4proto . th dport @{name} counter accept")
    return rules, sets, key if rule.peers else None


def render_policy(policy: Policy, node: str, selection: Selection) -> Fragment:
    """A policy's rules and sets on `node`; empty when it selects no pod there."""
    targets = selection.targets(policy, node)
    if not targets:
        return Fragment()
    sets: dict[str, SetSpec] = {}
    isolated: dict[Direction, frozenset[str]] = {}
    peers: set[PeerKey] = set()
    rules: dict[Direction, tuple[str, ...]] = {}
    for direction in sorted(policy.types):
        texts: list[str] = []
        for i, rule in enumerate(policy.rules(direction)):
            more, rule_sets, key = _rule_objects(policy, direction, i, rule, targets, selection)
            texts += more
            sets.update(rule_sets)
            if key is not None:
                peers.add(key)
        comment = f' comment "{rule_comment(policy.key, direction)}"'
        rules[direction] = tuple(text + comment for text in texts)
        isolated[direction] = frozenset(p.ip for p in targets)
    return Fragment({}, sets, isolated, frozenset(peers), rules)


def peer_set_is_plain(key: PeerKey) -> bool:
    """Whether the peers are pods only: their set is a plain hash set of pod addresses."""
    return not any(peer.cidr is not None for peer in key[1])


def render_peer_set(key: PeerKey, members: Iterable[str]) -> Fragment:
    """The shared set of a rule's peers: pod addresses, and ipBlocks collapsed (interval)."""
    name = peer_set_name(key)
    if peer_set_is_plain(key):
        # pods only: a plain hash set, whose element changes need no cache in `nft`
        # (an interval set's do: at 20k elements a change took 60 ms instead of 2)
        elements = frozenset(Element(name, (ip,)) for ip in members)
        return Fragment(sets={name: SetSpec(Set(name, "ipv4_addr"), elements)})
    blocks = [net for peer in key[1] for net in peer.networks()]
    elements = frozenset(Element(name, (text,)) for text in _interval_elements(members, blocks))
    return Fragment(sets={name: SetSpec(Set(name, "ipv4_addr", ("interval",)), elements)})


def render_base(fragments: Mapping[str, Fragment], node_addresses: Iterable[str]) -> Fragment:
    """The base chains, the pod maps, and one chain per group of local pods isolated by the
    same policies in one direction: the rules of those policies (in policy key order),
    then `drop`. Pods share chains (fewer chains: `nft` loads every chain into its cache
    for each transaction, so their number prices every sync)."""
    selecting: dict[tuple[Direction, str], list[str]] = defaultdict(list)
    for key in sorted(fragments):
        for direction, ips in fragments[key].targets.items():
            for ip in ips:
                selecting[(direction, ip)].append(key)
    self_check = f"ip saddr . ip daddr @{SELF_SET} accept"
    chains = {
        EGRESS_CHAIN: ChainSpec(
            Chain(EGRESS_CHAIN, ChainType.FILTER, Hook.POSTROUTING, EGRESS_PRIORITY),
            ("ct state established,related accept", self_check,
             f"ip saddr vmap @{EGRESS_PODS_MAP}")),
        INGRESS_CHAIN: ChainSpec(
            Chain(INGRESS_CHAIN, ChainType.FILTER, Hook.POSTROUTING, INGRESS_PRIORITY),
            ("ct state established,related accept",
             *(f"ip saddr {address} accept" for address in sorted(node_addresses)),
             self_check, f"ip daddr vmap @{INGRESS_PODS_MAP}")),
    }
    maps: dict[Direction, set[Element]] = {Direction.INGRESS: set(), Direction.EGRESS: set()}
    for (direction, ip), keys in sorted(selecting.items()):
        digest = hashlib.sha256(",".join(keys).encode()).hexdigest()[:12]
        name = f"{direction.lower()}-{digest}"
        if name not in chains:
            rules = [r for key in keys for r in fragments[key].rules.get(direction, ())]
            chains[name] = ChainSpec(Chain(name), (*rules, "drop"))
        container = INGRESS_PODS_MAP if direction is Direction.INGRESS else EGRESS_PODS_MAP
        maps[direction].add(Element(container, (ip,), (f"jump {name}",)))
    sets = {name: SetSpec(Map(name, "ipv4_addr : verdict"), frozenset(maps[direction]))
            for name, direction in ((INGRESS_PODS_MAP, Direction.INGRESS),
                                    (EGRESS_PODS_MAP, Direction.EGRESS))}
    isolated = {ip for _, ip in selecting}
    sets[SELF_SET] = SetSpec(Set(SELF_SET, "ipv4_addr . ipv4_addr"),
                             frozenset(Element(SELF_SET, (ip, ip)) for ip in isolated))
    return Fragment(chains, sets)
