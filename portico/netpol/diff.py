"""Turn the previous and current fragments into one nft transaction (pure).

Full sync (nothing applied yet, or after a failure): `add table` (so the delete
cannot fail), `delete table`, then every set, chain, element and rule.

Partial sync, only over fragments that changed (unchanged fragments are the same
objects, so a label change costs what it touches, not the size of the table), in
an order `nft` accepts within one transaction:

1. add new sets and new chains (empty), so later rules and elements may use them;
2. delete elements that went away (of sets that stay), then add the new ones (an
   interval set rejects overlapping elements, so deletes come first);
3. flush every changed chain and add its rules (new chains just get their rules);
4. flush, then delete, chains that went away (nothing references them any more:
   their referrers were rewritten in step 3, their map elements deleted in step 2);
5. delete sets that went away (their rules are gone).

`only_allows(tx)` tells the agent whether a transaction can only let more through
(it adds elements to peer, named-port or self sets, and nothing else: a pod that
joined a peer set). Then no running connection can have become forbidden and the
conntrack pass is skipped.
"""

from __future__ import annotations

from collections.abc import Mapping

from portico.netpol.render import (
    EGRESS_PODS_MAP,
    INGRESS_PODS_MAP,
    TABLE,
    ChainSpec,
    Fragment,
    SetSpec,
)
from portico.proxy.nftables import Element, Family, Rule, Table, Transaction, Verb

Fragments = Mapping[str, Fragment]


def _flatten(fragments: Fragments, keys: set[str]
             ) -> tuple[dict[str, ChainSpec], dict[str, SetSpec]]:
    chains: dict[str, ChainSpec] = {}
    sets: dict[str, SetSpec] = {}
    for key in keys:
        fragment = fragments.get(key)
        if fragment is not None:
            chains.update(fragment.chains)
            sets.update(fragment.sets)
    return chains, sets


def full(current: Fragments) -> Transaction:
    tx = Transaction(Family.INET, TABLE)
    tx.add(Table())
    tx.delete(Table())
    tx.add(Table(comment="NetworkPolicy rules of portico"))
    chains, sets = _flatten(current, set(current))
    for name in sorted(sets):
        tx.add(sets[name].set)
    for name in sorted(chains):
        tx.add(chains[name].chain)
    for name in sorted(sets):
        for element in sorted(sets[name].elements, key=lambda e: e.key):
            tx.add(element)
    for name in sorted(chains):
        for rule in chains[name].rules:
            tx.add(Rule(name, rule))
    return tx


def partial(previous: Fragments, current: Fragments) -> Transaction:
    changed = {k for k in previous.keys() | current.keys()
               if previous.get(k) is not current.get(k)}
    before_chains, before_sets = _flatten(previous, changed)
    after_chains, after_sets = _flatten(current, changed)
    tx = Transaction(Family.INET, TABLE)
    for name in sorted(after_sets.keys() - before_sets.keys()):
        tx.add(after_sets[name].set)
    for name in sorted(after_chains.keys() - before_chains.keys()):
        tx.add(after_chains[name].chain)
    for name in sorted(after_sets.keys() & before_sets.keys()):
        for element in sorted(before_sets[name].elements - after_sets[name].elements,
                              key=lambda e: e.key):
            tx.delete(element)
    for name in sorted(after_sets):
        old = before_sets.get(name)
        fresh = after_sets[name].elements - (old.elements if old else frozenset())
        for element in sorted(fresh, key=lambda e: e.key):
            tx.add(element)
    for name in sorted(after_chains):
        old_chain = before_chains.get(name)
        if old_chain is not None and old_chain.rules == after_chains[name].rules:
            continue
        if old_chain is not None:
            tx.flush(old_chain.chain)
        for rule in after_chains[name].rules:
            tx.add(Rule(name, rule))
    gone = sorted(before_chains.keys() - after_chains.keys())
    for name in gone:
        tx.flush(before_chains[name].chain)
    for name in gone:
        tx.delete(before_chains[name].chain)
    for name in sorted(before_sets.keys() - after_sets.keys()):
        tx.delete(before_sets[name].set)
    return tx


def only_allows(tx: Transaction) -> bool:
    """Whether every operation adds an element that allows more (not a pod-map element,
    which isolates a pod)."""
    return all(verb is Verb.ADD and isinstance(obj, Element)
               and obj.container not in (INGRESS_PODS_MAP, EGRESS_PODS_MAP)
               for verb, obj in tx.operations)
