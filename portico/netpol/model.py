"""The NetworkPolicy model: policies, pods and namespaces as frozen values, and the verdict.

Theory of operation. Objects are parsed once at the boundary (`pod_from_object`,
`namespace_from_object`, `policy_from_object`) into frozen values; everything after
is pure. `Cluster` is one snapshot (pods by IP, namespace labels, policies) and
`Cluster.decide(src, dst, protocol, port)` answers "is this new connection
allowed, and by which policies?" with upstream semantics:

- A pod is isolated for a direction when some policy selects it (`podSelector` in
  the policy's namespace) and lists that direction in its (defaulted)
  `policyTypes`. A non-isolated pod allows everything in that direction.
- An isolated direction allows what the union of the selecting policies' rules
  allows. A rule matches when one of its peers matches (no peers: everyone) and
  one of its ports matches (no ports: every port). A connection needs both the
  source's egress and the destination's ingress.
- Peers: `podSelector` alone selects pods of the policy's namespace;
  `namespaceSelector` alone all pods of the matching namespaces; both, the
  matching pods of the matching namespaces; `ipBlock` any address (pod or not)
  inside `cidr` and outside every `except`.
- Ports: protocol and number (a range with `endPort`) or a name, resolved against
  the destination pod's container ports (the policy's pod for ingress, the peer
  pod for egress); a name never matches a non-pod destination.
- Always allowed, whatever the policies: a pod's traffic to itself, and traffic
  from the destination pod's own node (upstream: pods cannot block their node).

The renderer (`render.py`) and `portico policy check` use this same module, so the
rules in the kernel and the CLI's answer cannot disagree.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from portico.model.selectors import LabelSelector, selector_from_label_selector_object
from portico.model.vocabulary import PodPhase, Protocol

Labels = tuple[tuple[str, str], ...]
"""Labels as a sorted tuple, so the values that carry them are hashable."""


class Direction(StrEnum):
    INGRESS = "Ingress"
    EGRESS = "Egress"


def labels_of(mapping: Mapping[str, str] | None) -> Labels:
    return tuple(sorted((mapping or {}).items()))


@dataclass(frozen=True)
class NamedPort:
    name: str
    protocol: Protocol
    port: int


@dataclass(frozen=True)
class Pod:
    namespace: str
    name: str
    ip: str
    node: str
    labels: Labels = ()
    ports: tuple[NamedPort, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @functools.cached_property
    def label_map(self) -> dict[str, str]:
        """The labels as a mapping, built once (selectors match many times)."""
        return dict(self.labels)

    def named_port(self, name: str, protocol: Protocol) -> int | None:
        return next((p.port for p in self.ports if p.name == name and p.protocol == protocol),
                    None)


@dataclass(frozen=True)
class PortSpec:
    protocol: Protocol
    port: int | str | None = None
    """None: every port of the protocol; str: a named container port."""
    end_port: int | None = None

    def matches(self, protocol: Protocol, port: int, destination: Pod | None) -> bool:
        if protocol != self.protocol:
            return False
        if self.port is None:
            return True
        if isinstance(self.port, str):
            return destination is not None and destination.named_port(self.port,
                                                                       protocol) == port
        return self.port <= port <= (self.end_port or self.port)


@dataclass(frozen=True)
class Peer:
    pod_selector: LabelSelector | None = None
    namespace_selector: LabelSelector | None = None
    cidr: str | None = None
    excepts: tuple[str, ...] = ()

    def networks(self) -> list[ipaddress.IPv4Network]:
        """An ipBlock peer as disjoint networks (`cidr` minus every `except`)."""
        if self.cidr is None or ":" in self.cidr:  # IPv6 blocks match no IPv4 address
            return []
        remaining = [ipaddress.IPv4Network(self.cidr, strict=False)]
        for text in self.excepts:
            hole = ipaddress.IPv4Network(text, strict=False)
            remaining = [piece for net in remaining for piece in _exclude(net, hole)]
        return remaining


def _exclude(net: ipaddress.IPv4Network,
             hole: ipaddress.IPv4Network) -> list[ipaddress.IPv4Network]:
    if not net.overlaps(hole):
        return [net]
    if hole.supernet_of(net):
        return []
    return list(net.address_exclude(hole))


@dataclass(frozen=True)
class PolicyRule:
    peers: tuple[Peer, ...] = ()
    """Empty: every source (ingress) or destination (egress)."""
    ports: tuple[PortSpec, ...] = ()
    """Empty: every port and protocol."""


@dataclass(frozen=True)
class Policy:
    namespace: str
    name: str
    pod_selector: LabelSelector
    ingress: tuple[PolicyRule, ...] = ()
    egress: tuple[PolicyRule, ...] = ()
    types: frozenset[Direction] = frozenset({Direction.INGRESS})

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def rules(self, direction: Direction) -> tuple[PolicyRule, ...]:
        return self.ingress if direction is Direction.INGRESS else self.egress

    def selects(self, pod: Pod) -> bool:
        return pod.namespace == self.namespace and self.pod_selector.matches(pod.label_map)


@dataclass(frozen=True)
class DirectionVerdict:
    selected_by: tuple[str, ...] = ()
    """The policies (`ns/name`) that isolate the pod in this direction."""
    allowed_by: tuple[str, ...] = ()
    """Those of them whose rules allow the connection."""
    always: str = ""
    """Why the connection is allowed whatever the policies ("self", "node")."""

    @property
    def isolated(self) -> bool:
        return bool(self.selected_by)

    @property
    def allowed(self) -> bool:
        return not self.isolated or bool(self.allowed_by) or bool(self.always)


@dataclass(frozen=True)
class Decision:
    egress: DirectionVerdict
    ingress: DirectionVerdict

    @property
    def allowed(self) -> bool:
        return self.egress.allowed and self.ingress.allowed


@dataclass
class Cluster:
    """One snapshot: pods, namespace labels, policies, node addresses."""

    pods: dict[str, Pod] = field(default_factory=dict)
    """By IP."""
    namespaces: dict[str, Labels] = field(default_factory=dict)
    policies: dict[str, Policy] = field(default_factory=dict)
    node_addresses: dict[str, frozenset[str]] = field(default_factory=dict)
    """Per node name, the addresses traffic from that node carries (node IP, bridge)."""

    def peer_matches(self, policy: Policy, peer: Peer, ip: str) -> bool:
        if peer.cidr is not None:
            address = ipaddress.IPv4Address(ip)
            return any(address in net for net in peer.networks())
        pod = self.pods.get(ip)
        return pod is not None and peer_selects(policy.namespace, peer, pod, self.namespaces)

    def verdict(self, direction: Direction, subject: Pod, other: str, protocol: Protocol,
                port: int, destination: Pod | None) -> DirectionVerdict:
        # filter, then sort (the conntrack pass asks once per flow)
        selecting = sorted((p for p in self.policies.values()
                            if direction in p.types and p.selects(subject)),
                           key=lambda p: p.key)
        allowed = tuple(p.key for p in selecting
                        if any(self._rule_matches(p, r, other, protocol, port, destination)
                               for r in p.rules(direction)))
        return DirectionVerdict(tuple(p.key for p in selecting), allowed)

    def _rule_matches(self, policy: Policy, rule: PolicyRule, other: str, protocol: Protocol,
                      port: int, destination: Pod | None) -> bool:
        if rule.peers and not any(self.peer_matches(policy, peer, other) for peer in rule.peers):
            return False
        return not rule.ports or any(s.matches(protocol, port, destination) for s in rule.ports)

    def decide(self, src: str, dst: str, protocol: Protocol, port: int) -> Decision:
        """The verdict for a new connection from address `src` to `dst:port` (post-DNAT)."""
        source, destination = self.pods.get(src), self.pods.get(dst)
        if src == dst:
            return Decision(DirectionVerdict(always="self"), DirectionVerdict(always="self"))
        egress = (self.verdict(Direction.EGRESS, source, dst, protocol, port, destination)
                  if source is not None else DirectionVerdict())
        if destination is None:
            return Decision(egress, DirectionVerdict())
        if src in self.node_addresses.get(destination.node, frozenset()):
            return Decision(egress, DirectionVerdict(always="node"))
        ingress = self.verdict(Direction.INGRESS, destination, src, protocol, port, destination)
        return Decision(egress, ingress)


def peer_selects(namespace: str, peer: Peer, pod: Pod, namespaces: Mapping[str, Labels]) -> bool:
    """Whether a pod (not ipBlock) peer of a policy in `namespace` selects `pod`."""
    if peer.cidr is not None:
        return False
    if peer.namespace_selector is None:
        in_namespace = pod.namespace == namespace
    else:
        in_namespace = peer.namespace_selector.matches(dict(namespaces.get(pod.namespace, ())))
    if not in_namespace:
        return False
    return peer.pod_selector is None or peer.pod_selector.matches(pod.label_map)


# --- parsing at the boundary -----------------------------------------------------------------


def _selector(obj: Any) -> LabelSelector | None:
    return None if obj is None else selector_from_label_selector_object(obj)


def _peer(obj: Mapping[str, Any]) -> Peer:
    block = obj.get("ipBlock")
    if block is not None:
        return Peer(cidr=block.get("cidr"), excepts=tuple(block.get("except") or ()))
    return Peer(_selector(obj.get("podSelector")), _selector(obj.get("namespaceSelector")))


def _port(obj: Mapping[str, Any]) -> PortSpec:
    return PortSpec(Protocol(obj.get("protocol") or "TCP"), obj.get("port"), obj.get("endPort"))


def _rules(items: Iterable[Any] | None, peers: str) -> tuple[PolicyRule, ...]:
    return tuple(PolicyRule(tuple(_peer(p) for p in (r or {}).get(peers) or ()),
                            tuple(_port(p) for p in (r or {}).get("ports") or ()))
                 for r in items or ())


def policy_from_object(obj: Mapping[str, Any]) -> Policy:
    meta, spec = obj.get("metadata") or {}, obj.get("spec") or {}
    types = spec.get("policyTypes") or (
        ["Ingress"] + (["Egress"] if spec.get("egress") else []))
    return Policy(
        namespace=meta.get("namespace") or "default", name=meta.get("name") or "",
        pod_selector=selector_from_label_selector_object(spec.get("podSelector") or {}),
        ingress=_rules(spec.get("ingress"), "from"), egress=_rules(spec.get("egress"), "to"),
        types=frozenset(Direction(t) for t in types))


def pod_from_object(obj: Mapping[str, Any]) -> Pod | None:
    """A pod with its own address (not host network, not finished), else None."""
    meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
    ip = status.get("podIP")
    finished = status.get("phase") in (PodPhase.SUCCEEDED, PodPhase.FAILED)
    if not ip or spec.get("hostNetwork") or finished:
        return None
    if ":" in ip:
        return None
    ports = tuple(NamedPort(p["name"], Protocol(p.get("protocol") or "TCP"), p["containerPort"])
                  for c in spec.get("containers") or () for p in c.get("ports") or ()
                  if p.get("name") and p.get("containerPort"))
    return Pod(meta.get("namespace") or "default", meta.get("name") or "", ip,
               spec.get("nodeName") or "", labels_of(meta.get("labels")), ports)


def namespace_labels(obj: Mapping[str, Any]) -> Labels:
    return labels_of((obj.get("metadata") or {}).get("labels"))
