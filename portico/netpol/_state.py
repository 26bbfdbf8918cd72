"""What the policy agent knows and has applied; plans partial syncs (pure, no I/O).

Theory of operation. Watch handlers call `set_pod` / `set_namespace` /
`set_policy`; each updates the snapshot (`Cluster`) and marks dirty only what the
change can affect, found through indexes rather than by testing every policy:

- policies: a pod change dirties the policies of its namespace whose fragment it
  changes (the policy selects the pod on this node before or after, and the
  selection, the address or the named ports differ), and those whose egress named
  ports resolve against it (few: kept in their own index); a policy change
  dirties itself. A label change of a peer pod re-renders no policy at all;
- peer sets (shared, see `render.py`): the members (pod IPs) of every set in use
  are kept up to date incrementally: a pod change tests the pod, before and after,
  against each set's peers and touches only the sets whose membership changed; a
  namespace relabel recomputes the sets with a `namespaceSelector`.

`plan()` re-renders only the dirty policies, keeps every fragment that did not
change as the very object applied before (so `diff.partial` skips it), adds the
peer sets newly in use and drops the unused ones, and re-renders the small `base`
fragment only when a policy fragment changed. A dirty peer set of pods only is
patched, not re-rendered: its applied elements minus the members that left plus
the ones that came (the partial transaction is then one `add element` / `delete
element` per changed membership, as kube-proxy's nftables proxier syncs endpoints);
an interval set (with ipBlocks) is re-rendered. `commit(plan)` makes the plan the
applied state; `failed()` forces the next plan to be a full sync, as kube-proxy
does after a failed transaction, and so does `resync()` (the agent's periodic full
sync). Changes recorded while a plan is being applied belong to the next plan.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection
from dataclasses import dataclass

from portico.netpol import diff
from portico.netpol.model import Cluster, Direction, Labels, Pod, Policy
from portico.netpol.render import (
    BASE,
    Fragment,
    PeerKey,
    Selection,
    SetSpec,
    peer_key,
    peer_key_selects,
    peer_set_is_plain,
    peer_set_name,
    render_base,
    render_peer_set,
    render_policy,
)
from portico.proxy.nftables import Element, Transaction

SET_PREFIX = "set:"


@dataclass(frozen=True)
class Plan:
    tx: Transaction
    fragments: dict[str, Fragment]
    full: bool
    policies: int
    """How many policies were re-rendered."""
    members: dict[PeerKey, frozenset[str]]
    """The members of each peer set in `fragments`."""


def _has_named_egress(policy: Policy) -> bool:
    return Direction.EGRESS in policy.types and any(
        isinstance(s.port, str) for rule in policy.egress for s in rule.ports)


def _renders_changed(uses: Callable[[Pod], bool], old: Pod | None, new: Pod | None) -> bool:
    """Whether a pod change alters a policy that `uses` the pod (as a target, or to resolve
    named ports): whether it uses the pod now and did before, or its address or ports."""
    before = old is not None and uses(old)
    after = new is not None and uses(new)
    if old is None or new is None or not (before and after):
        return before != after
    return old.ip != new.ip or old.ports != new.ports


class PolicyState:
    def __init__(self, node: str, node_addresses: frozenset[str]) -> None:
        self.node = node
        self.cluster = Cluster(node_addresses={node: node_addresses})
        self.applied: dict[str, Fragment] = {}
        self.need_full_sync = True
        self._dirty: set[str] = set()
        self._members: dict[PeerKey, frozenset[str]] = {}
        """The pod IPs each peer set in use holds."""
        self._applied_members: dict[PeerKey, frozenset[str]] = {}
        """The members of each peer set as applied (`Plan.members` of the last commit)."""
        self._dirty_sets: set[PeerKey] = set()
        self._stale_sets: set[PeerKey] = set()
        """Sets whose members the next plan recomputes (a namespace was relabelled)."""
        self._pods: dict[str, Pod] = {}
        """By `ns/name`: the address a pod had, to forget it when it changes."""
        self._policies_in: dict[str, set[str]] = {}
        """Policy keys by namespace: the only policies that can select a pod there."""
        self._named_egress: set[str] = set()
        """Policies with egress named ports: they resolve them against peer pods."""

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
        self._dirty_policies(old, pod)
        self._update_members(old, pod)

    def _dirty_policies(self, old: Pod | None, new: Pod | None) -> None:
        namespaces = {p.namespace for p in (old, new) if p is not None}
        for namespace in namespaces:
            for key in self._policies_in.get(namespace, ()):
                policy = self.cluster.policies[key]
                if _renders_changed(functools.partial(self._targets, policy), old, new):
                    self._dirty.add(key)
        for key in self._named_egress:
            if _renders_changed(functools.partial(self._named_peer, self.cluster.policies[key]),
                                old, new):
                self._dirty.add(key)

    def _targets(self, policy: Policy, pod: Pod) -> bool:
        """Whether `policy` isolates `pod` on this node."""
        return pod.node == self.node and policy.selects(pod)

    def _named_peer(self, policy: Policy, pod: Pod) -> bool:
        """Whether an egress rule of `policy` resolves its named ports against `pod`."""
        namespaces = self.cluster.namespaces
        return any(any(isinstance(s.port, str) for s in rule.ports) and (
            not rule.peers or peer_key_selects(peer_key(policy.namespace, rule.peers), pod,
                                               namespaces))
                   for rule in policy.egress)

    def _update_members(self, old: Pod | None, new: Pod | None) -> None:
        namespaces = self.cluster.namespaces
        for peers, members in self._members.items():
            leaving = old.ip if old is not None and old.ip in members else None
            joining = (new.ip if new is not None and peer_key_selects(peers, new, namespaces)
                       else None)
            if leaving == joining:  # out before and after, or in with the same address
                continue
            updated = members - {leaving} if leaving is not None else members
            self._members[peers] = updated | {joining} if joining is not None else updated
            self._dirty_sets.add(peers)

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
        old = self.cluster.policies.get(key)
        if old == policy:
            return
        if old is not None:
            self._policies_in[old.namespace].discard(key)
            self._named_egress.discard(key)
        if policy is None:
            self.cluster.policies.pop(key, None)
        else:
            self.cluster.policies[key] = policy
            self._policies_in.setdefault(policy.namespace, set()).add(key)
            if _has_named_egress(policy):
                self._named_egress.add(key)
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
        members = {} if full else dict(self._applied_members)
        self._plan_sets(fragments, members, dirty_sets, stale, selection, policies_changed)
        old_base = self.applied.get(BASE)
        if policies_changed or old_base is None:
            base = render_base(fragments, self.cluster.node_addresses[self.node])
            fragments[BASE] = old_base if old_base == base and old_base is not None else base
        else:  # the pod chains depend on the policy fragments only
            fragments[BASE] = old_base
        tx = diff.full(fragments) if full else diff.partial(self.applied, fragments)
        return Plan(tx, fragments, full, len(keys), members)

    def _plan_sets(self, fragments: dict[str, Fragment], members: dict[PeerKey, frozenset[str]],
                   dirty: set[PeerKey], stale: set[PeerKey], selection: Selection,
                   policies_changed: bool) -> None:
        """Bring the peer set fragments (and `members`, what they hold) up to date. Without
        a policy change the same sets are in use, and only the dirty ones are looked at
        (peer keys hash deeply: no pass over every set)."""
        needed: Collection[PeerKey] = self._members.keys()
        recompute = stale
        if policies_changed:  # sets may have come into use, or gone out of it
            needed = {peers for f in fragments.values() for peers in f.peers}
            recompute = stale | (needed - self._members.keys())
            for peers in self._members.keys() - needed:
                del self._members[peers]
                members.pop(peers, None)
                fragments.pop(SET_PREFIX + peer_set_name(peers), None)
        for peers in recompute:
            if peers in needed:
                self._members[peers] = frozenset(p.ip for p in selection.peer_pods(peers))
                dirty.add(peers)
        for peers in dirty:
            if peers not in needed:
                continue
            name = SET_PREFIX + peer_set_name(peers)
            fragment = _peer_set(peers, fragments.get(name), members.get(peers),
                                 self._members[peers])
            if fragment is not None:
                fragments[name] = fragment
                members[peers] = self._members[peers]

    def commit(self, plan: Plan) -> None:
        self.applied = plan.fragments
        self._applied_members = plan.members

    def failed(self) -> None:
        self.need_full_sync = True

    def resync(self) -> None:
        """Make the next plan a full sync (the periodic resync): the whole table is rebuilt
        from the snapshot, whatever was applied or done to it behind the agent's back."""
        self.need_full_sync = True


def _peer_set(peers: PeerKey, old: Fragment | None, old_members: frozenset[str] | None,
              members: frozenset[str]) -> Fragment | None:
    """The set's new fragment, None when unchanged. A set of pods only that is applied is
    patched (elements of the members that left out, of those that came in): it costs
    what changed, not the size of the set."""
    if old is None or old_members is None or not peer_set_is_plain(peers):
        fragment = render_peer_set(peers, members)
        return None if fragment == old else fragment
    if old_members == members:
        return None
    name = peer_set_name(peers)
    spec = old.sets[name]
    gone = {Element(name, (ip,)) for ip in old_members - members}
    came = {Element(name, (ip,)) for ip in members - old_members}
    return Fragment(sets={name: SetSpec(spec.set, (spec.elements - gone) | came)})
