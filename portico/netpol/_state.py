"""What the policy agent knows and has applied; plans partial syncs (pure, no I/O).

Theory of operation. Watch handlers call `set_pod` / `set_namespace` /
`set_policy`; each updates the snapshot (`Cluster`) and marks dirty only what the
change can affect:

- policies: a pod change dirties the policies that select the pod (before or
  after) on this node, and those whose egress named ports resolve against it; a
  policy change dirties itself;
- peer sets (shared, see `render.py`): the members (pod IPs) of every set in use
  are kept up to date incrementally: a pod change tests the pod, before and after,
  against each set's peers; a namespace relabel recomputes the sets with a
  `namespaceSelector`.

`plan()` re-renders only the dirty policies and peer sets, keeps every fragment
that did not change as the very object applied before (so `diff.partial` skips it),
adds the peer sets newly in use and drops the unused ones, re-renders the small
`base` fragment, and returns one transaction. `commit(plan)` makes it the applied
state; `failed()` forces the next plan to be a full sync, as kube-proxy does after
a failed transaction. Changes recorded while a plan is being applied belong to the
next plan.
"""

from __future__ import annotations

from dataclasses import dataclass

from portico.netpol import diff
from portico.netpol.model import Cluster, Direction, Labels, Pod, Policy
from portico.netpol.render import (
    BASE,
    Fragment,
    PeerKey,
    Selection,
    peer_key,
    peer_key_selects,
    peer_set_name,
    render_base,
    render_peer_set,
    render_policy,
)
from portico.proxy.nftables import Transaction

SET_PREFIX = "set:"


@dataclass(frozen=True)
class Plan:
    tx: Transaction
    fragments: dict[str, Fragment]
    full: bool
    policies: int
    """How many policies were re-rendered."""


class PolicyState:
    def __init__(self, node: str, node_addresses: frozenset[str]) -> None:
        self.node = node
        self.cluster = Cluster(node_addresses={node: node_addresses})
        self.applied: dict[str, Fragment] = {}
        self.need_full_sync = True
        self._dirty: set[str] = set()
        self._members: dict[PeerKey, frozenset[str]] = {}
        """The pod IPs each peer set in use holds."""
        self._dirty_sets: set[PeerKey] = set()
        self._stale_sets: set[PeerKey] = set()
        """Sets whose members the next plan recomputes (a namespace was relabelled)."""
        self._pods: dict[str, Pod] = {}
        """By `ns/name`: the address a pod had, to forget it when it changes."""

    def pending(self) -> bool:
        return self.need_full_sync or bool(self._dirty or self._dirty_sets or self._stale_sets)

    # --- recording --------------------------------------------------------------------------

    def set_pod(self, key: str, pod: Pod | None) -> None:
        old = self._pods.pop(key, None)
        if old is not None and self.cluster.pods.get(old.ip) is old:
            del self.cluster.pods[old.ip]
        if pod is not None:
            self._pods[key] = pod
            self.cluster.pods[pod.ip] = pod
        if old == pod:
            return
        changed = [p for p in (old, pod) if p is not None]
        self._dirty |= {k for k, policy in self.cluster.policies.items()
                        if any(self._pod_affects(policy, p) for p in changed)}
        namespaces = self.cluster.namespaces
        for peers, members in self._members.items():
            updated = members - {old.ip} if old is not None else members
            if pod is not None and peer_key_selects(peers, pod, namespaces):
                updated = updated | {pod.ip}
            if updated != members:
                self._members[peers] = updated
                self._dirty_sets.add(peers)

    def _pod_affects(self, policy: Policy, pod: Pod) -> bool:
        if pod.node == self.node and policy.selects(pod):
            return True
        if Direction.EGRESS not in policy.types:
            return False
        namespaces = self.cluster.namespaces
        return any(any(isinstance(s.port, str) for s in rule.ports) and (
            not rule.peers or peer_key_selects(peer_key(policy.namespace, rule.peers), pod,
                                               namespaces))
                   for rule in policy.egress)

    def set_namespace(self, name: str, labels: Labels | None) -> None:
        old = self.cluster.namespaces.get(name)
        if labels is None:
            self.cluster.namespaces.pop(name, None)
        else:
            self.cluster.namespaces[name] = labels
        if old == labels:
            return
        self._stale_sets |= {peers for peers in self._members
                             if any(p.namespace_selector is not None for p in peers[1])}
        for key, policy in self.cluster.policies.items():
            if any(p.namespace_selector is not None for d in policy.types
                   for r in policy.rules(d) for p in r.peers if any(
                       isinstance(s.port, str) for s in r.ports)):
                self._dirty.add(key)

    def set_policy(self, key: str, policy: Policy | None) -> None:
        if self.cluster.policies.get(key) == policy:
            return
        if policy is None:
            self.cluster.policies.pop(key, None)
        else:
            self.cluster.policies[key] = policy
        self._dirty.add(key)

    # --- planning ---------------------------------------------------------------------------

    def plan(self) -> Plan:
        full = self.need_full_sync
        keys = set(self.cluster.policies) if full else self._dirty
        if full:
            self._members = {}
        dirty_sets, stale = self._dirty_sets | self._stale_sets, self._stale_sets
        self.need_full_sync, self._dirty, self._dirty_sets = False, set(), set()
        self._stale_sets = set()
        selection = Selection(self.cluster)
        fragments = {k: v for k, v in self.applied.items() if k != BASE}
        policies_changed = full
        for key in keys:
            policy = self.cluster.policies.get(key)
            fragment = render_policy(policy, self.node, selection) if policy else Fragment()
            if not fragment.targets:
                policies_changed |= fragments.pop(key, None) is not None
            elif fragment != fragments.get(key):
                fragments[key] = fragment
                policies_changed = True
        self._plan_sets(fragments, dirty_sets, stale, selection, policies_changed)
        old_base = self.applied.get(BASE)
        if policies_changed or old_base is None:
            base = render_base(fragments, self.cluster.node_addresses[self.node])
            fragments[BASE] = old_base if old_base == base and old_base is not None else base
        else:  # the pod chains depend on the policy fragments only
            fragments[BASE] = old_base
        tx = diff.full(fragments) if full else diff.partial(self.applied, fragments)
        return Plan(tx, fragments, full, len(keys))

    def _plan_sets(self, fragments: dict[str, Fragment], dirty: set[PeerKey],
                   stale: set[PeerKey], selection: Selection, policies_changed: bool) -> None:
        if not policies_changed:  # the same sets are in use: update the dirty ones
            needed = set(self._members)
        else:
            needed = {peers for f in fragments.values() for peers in f.peers}
        for peers in (needed - self._members.keys()) | (stale & needed):
            self._members[peers] = frozenset(p.ip for p in selection.peer_pods(peers))
            dirty.add(peers)
        for peers in self._members.keys() - needed:
            del self._members[peers]
            fragments.pop(SET_PREFIX + peer_set_name(peers), None)
        for peers in dirty & needed:
            name = SET_PREFIX + peer_set_name(peers)
            fragment = render_peer_set(peers, self._members[peers])
            if fragment != fragments.get(name):
                fragments[name] = fragment

    def commit(self, plan: Plan) -> None:
        self.applied = plan.fragments

    def failed(self) -> None:
        self.need_full_sync = True
