"""What the policy agent knows and has applied; plans partial syncs (pure, no I/O).

Theory of operation. Watch handlers call `set_pod` / `set_namespace` /
`set_policy`; each updates the snapshot (`Cluster`) and marks *dirty* only the
policies the change can affect: a pod change dirties the policies that select the
pod (before or after) and those with a peer selecting it (or a peerless rule with
named ports, whose destinations are every pod); a namespace relabel dirties the
policies with a `namespaceSelector` that matches its old or new labels; a policy
change dirties itself. `plan()` re-renders only the dirty policies, keeps every
fragment that did not change as the very object applied before (so `diff.partial`
skips it), re-renders the small `base` fragment, and returns one transaction.
`commit(plan)` makes it the applied state; `failed()` forces the next plan to be
a full sync, as kube-proxy does after a failed transaction. Changes recorded while
a plan is being applied belong to the next plan.
"""

from __future__ import annotations

from dataclasses import dataclass

from portico.netpol import diff
from portico.netpol.model import Cluster, Labels, Pod, Policy, peer_selects
from portico.netpol.render import BASE, Fragment, Selection, render_base, render_policy
from portico.proxy.nftables import Transaction


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
        self._pods: dict[str, Pod] = {}
        """By `ns/name`: the address a pod had, to forget it when it changes."""

    def pending(self) -> bool:
        return self.need_full_sync or bool(self._dirty)

    # --- recording --------------------------------------------------------------------------

    def set_pod(self, key: str, pod: Pod | None) -> None:
        old = self._pods.pop(key, None)
        if old is not None and self.cluster.pods.get(old.ip) is old:
            del self.cluster.pods[old.ip]
        if pod is not None:
            self._pods[key] = pod
            self.cluster.pods[pod.ip] = pod
        if old != pod:
            changed = [p for p in (old, pod) if p is not None]
            self._dirty |= {k for k, policy in self.cluster.policies.items()
                            if any(self._pod_affects(policy, p) for p in changed)}

    def _pod_affects(self, policy: Policy, pod: Pod) -> bool:
        if pod.node == self.node and policy.selects(pod):
            return True
        for direction in policy.types:
            for rule in policy.rules(direction):
                if not rule.peers and any(isinstance(s.port, str) for s in rule.ports):
                    return True
                if any(peer_selects(policy, peer, pod, self.cluster.namespaces)
                       for peer in rule.peers):
                    return True
        return False

    def set_namespace(self, name: str, labels: Labels | None) -> None:
        old = self.cluster.namespaces.get(name)
        if labels is None:
            self.cluster.namespaces.pop(name, None)
        else:
            self.cluster.namespaces[name] = labels
        if old == labels:
            return
        versions = [dict(v) for v in (old, labels) if v is not None]
        for key, policy in self.cluster.policies.items():
            selectors = [peer.namespace_selector for d in policy.types for r in policy.rules(d)
                         for peer in r.peers if peer.namespace_selector is not None]
            if any(s.matches(v) for s in selectors for v in versions):
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
        self.need_full_sync, self._dirty = False, set()  # changes from now on: the next plan
        selection = Selection(self.cluster)
        fragments = {k: v for k, v in self.applied.items() if k != BASE}
        for key in keys:
            policy = self.cluster.policies.get(key)
            fragment = render_policy(policy, self.node, selection) if policy else Fragment()
            if not fragment.chains:
                fragments.pop(key, None)
            elif fragment != fragments.get(key):
                fragments[key] = fragment
        base = render_base(fragments, self.cluster.node_addresses[self.node])
        old_base = self.applied.get(BASE)
        fragments[BASE] = old_base if old_base == base and old_base is not None else base
        tx = diff.full(fragments) if full else diff.partial(self.applied, fragments)
        return Plan(tx, fragments, full, len(keys))

    def commit(self, plan: Plan) -> None:
        self.applied = plan.fragments

    def failed(self) -> None:
        self.need_full_sync = True
