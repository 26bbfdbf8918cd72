"""Diff desired fragments against what was applied, kept in memory; emit one Transaction.

Theory of operation. `Applied` remembers, per service port, the `Fragment` that
the kernel holds, and for every set/map element key which service ports claim it
(two ports of one Service share their ClusterIP in `cluster-ips`; two Services may
even share an external IP). The element in the kernel is the claim of the smallest
`ServicePortName`, so the outcome does not depend on event order.

- `full_sync` replaces the whole table in one transaction: `add table` (so the
  delete cannot fail), `delete table`, then the fixed objects and every fragment.
  The kernel swaps old for new atomically; established flows keep their conntrack
  NAT bindings, so a restarted proxy interrupts nothing.
- `partial_sync` touches only the changed service ports, in an order the kernel
  accepts: create new sets and chains; flush changed/removed chains; delete stale
  elements; delete removed chains and sets (their references are gone by now;
  needs kernel >= 6.2, older kernels release references only after the commit);
  re-add changed sets; add rules; add elements.

Nothing here does I/O. The caller applies the Transaction and, only if it
succeeded, calls `Applied.commit` with the same changes; on failure it falls
back to a full sync.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from portico.proxy.config import ProxyConfig
from portico.proxy.model import ServicePortName
from portico.proxy.nftables import Chain, Element, Family, Rule, Set, Table, Transaction
from portico.proxy.render import Fragment, base_objects

ElementKey = tuple[str, tuple[str, ...]]
Changes = Mapping[ServicePortName, Fragment | None]


@dataclass
class Applied:
    """What the kernel holds (as far as this process applied it)."""

    fragments: dict[ServicePortName, Fragment] = field(default_factory=dict)
    claims: dict[ElementKey, dict[ServicePortName, Element]] = field(default_factory=dict)

    def winner(self, key: ElementKey) -> Element | None:
        owners = self.claims.get(key)
        return owners[min(owners)] if owners else None

    def commit(self, changes: Changes) -> None:
        for name, current in changes.items():
            previous = self.fragments.pop(name, None)
            for key in previous.elements if previous else ():
                owners = self.claims[key]
                del owners[name]
                if not owners:
                    del self.claims[key]
            if current is None:
                continue
            self.fragments[name] = current
            for key, elem in current.elements.items():
                self.claims.setdefault(key, {})[name] = elem


def new_transaction(config: ProxyConfig) -> Transaction:
    return Transaction(Family.INET, config.table)


def full_sync(config: ProxyConfig, fragments: Mapping[ServicePortName, Fragment]
              ) -> tuple[Transaction, Applied]:
    """Replace the table atomically; returns the transaction and the state it yields."""
    tx = new_transaction(config)
    tx.add(Table())
    tx.delete(Table())
    applied = Applied()
    applied.commit(fragments)
    base = base_objects(config)
    for obj in base:
        if not isinstance(obj, Rule):
            tx.add(obj)
    for name in sorted(fragments):
        frag = fragments[name]
        for set_ in frag.sets.values():
            tx.add(set_)
        for chain in frag.chains:
            tx.add(Chain(chain))
    for obj in base:
        if isinstance(obj, Rule):
            tx.add(obj)
    for name in sorted(fragments):
        for chain, rules in fragments[name].chains.items():
            for rule in rules:
                tx.add(Rule(chain, rule))
    for key in sorted(applied.claims):
        winner = applied.winner(key)
        assert winner is not None
        tx.add(winner)
    return tx, applied


def _element_keys(applied: Applied, changes: Changes) -> set[ElementKey]:
    keys: set[ElementKey] = set()
    for name, current in changes.items():
        previous = applied.fragments.get(name)
        if previous:
            keys.update(previous.elements)
        if current:
            keys.update(current.elements)
    return keys


def _projected_winner(applied: Applied, changes: Changes, key: ElementKey) -> Element | None:
    owners = dict(applied.claims.get(key, {}))
    for name, current in changes.items():
        owners.pop(name, None)
        if current is not None and key in current.elements:
            owners[name] = current.elements[key]
    return owners[min(owners)] if owners else None


@dataclass
class _Plan:
    """The operations of a partial sync, grouped by the order they must run in."""

    new_sets: list[Set] = field(default_factory=list)
    new_chains: list[str] = field(default_factory=list)
    flush: list[str] = field(default_factory=list)
    element_deletes: list[Element] = field(default_factory=list)
    delete_chains: list[str] = field(default_factory=list)
    delete_sets: list[Set] = field(default_factory=list)
    readd_sets: list[Set] = field(default_factory=list)
    add_rules: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    element_adds: list[Element] = field(default_factory=list)

    def emit(self, tx: Transaction) -> None:
        for set_ in self.new_sets:
            tx.add(set_)
        for chain in self.new_chains:
            tx.add(Chain(chain))
        for chain in self.flush:
            tx.flush(Chain(chain))
        for elem in self.element_deletes:
            tx.delete(elem)
        for chain in self.delete_chains:
            tx.delete(Chain(chain))
        for set_ in self.delete_sets:
            tx.delete(set_)
        for set_ in self.readd_sets:
            tx.add(set_)
        for chain, rules in self.add_rules:
            for rule in rules:
                tx.add(Rule(chain, rule))
        for elem in self.element_adds:
            tx.add(elem)


def _plan_fragment(plan: _Plan, previous: Fragment, current: Fragment) -> None:
    changed_sets = {s for s in previous.sets.keys() & current.sets.keys()
                    if previous.sets[s] != current.sets[s]}
    for chain, rules in current.chains.items():
        old = previous.chains.get(chain)
        if old is None:
            plan.new_chains.append(chain)
            plan.add_rules.append((chain, rules))
        elif old != rules or changed_sets:
            plan.flush.append(chain)
            plan.add_rules.append((chain, rules))
    for chain in sorted(previous.chains.keys() - current.chains.keys()):
        plan.flush.append(chain)
        plan.delete_chains.append(chain)
    gone = sorted(previous.sets.keys() - current.sets.keys())
    added = sorted(current.sets.keys() - previous.sets.keys())
    plan.delete_sets += [previous.sets[s] for s in (*gone, *sorted(changed_sets))]
    plan.readd_sets += [current.sets[s] for s in sorted(changed_sets)]
    plan.new_sets += [current.sets[s] for s in added]


def partial_sync(config: ProxyConfig, applied: Applied, changes: Changes) -> Transaction:
    """The transaction that turns `applied` into `applied` + `changes`."""
    plan = _Plan()
    for name in sorted(changes):
        _plan_fragment(plan, applied.fragments.get(name) or Fragment(), changes[name] or Fragment())
    for key in sorted(_element_keys(applied, changes)):
        before, after = applied.winner(key), _projected_winner(applied, changes, key)
        if before == after:
            continue
        if before is not None:
            plan.element_deletes.append(before)
        if after is not None:
            plan.element_adds.append(after)
    tx = new_transaction(config)
    plan.emit(tx)
    return tx
