"""Diff desired fragments against what was applied, kept in memory; emit one Transaction.

Theory of operation. `Applied` remembers, per service port, the `Fragment` that
the kernel holds, the pick chains that exist, and for every set/map element key
which service ports claim it (two ports of one Service share their ClusterIP in
`cluster-ips`; two Services may even share an external IP). The element in the
kernel is the claim of the smallest `ServicePortName`, so the outcome does not
depend on event order.

- `full_sync` replaces the whole table in one transaction: `add table` (so the
  delete cannot fail), `delete table`, then the fixed objects, the pick chains
  in use and every element. The kernel swaps old for new atomically;
  established flows keep their conntrack NAT bindings, so a restarted proxy
  interrupts nothing.
- `partial_sync` emits, for the changed service ports only: `add chain` + its
  rules for a pick chain not yet in the table, then `delete element` for every
  element that goes or changes its value, then `add element` for the new ones
  (the kernel refuses to overwrite a map element's value in place). Only
  element commands and, rarely, a new chain: `nft` needs no rule cache for
  them, so the cost does not grow with the table. Pick chains are never
  deleted by a partial sync (an unused one costs nothing); a full sync drops
  the unused ones.

Nothing here does I/O. The caller applies the Transaction and, only if it
succeeded, calls `Applied.commit` with the same changes; on failure it falls
back to a full sync.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from portico.proxy.config import ProxyConfig
from portico.proxy.layout import Pick, base_objects
from portico.proxy.model import ServicePortName
from portico.proxy.nftables import Chain, Element, Family, Rule, Table, Transaction
from portico.proxy.render import ElementKey, Fragment

Changes = Mapping[ServicePortName, Fragment | None]


@dataclass
class Applied:
    """What the kernel holds (as far as this process applied it)."""

    fragments: dict[ServicePortName, Fragment] = field(default_factory=dict)
    claims: dict[ElementKey, dict[ServicePortName, Element]] = field(default_factory=dict)
    chains: set[str] = field(default_factory=set)
    """Pick chains in the table."""

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
            self.chains.update(chain for chain, _ in _pick_chains(current.picks))
            for key, elem in current.elements.items():
                self.claims.setdefault(key, {})[name] = elem


def new_transaction(config: ProxyConfig) -> Transaction:
    return Transaction(Family.INET, config.table)


def _pick_chains(picks: Iterable[Pick]) -> list[tuple[str, tuple[str, ...]]]:
    """The chains of `picks` with the chains they use, once each, sorted by name."""
    chains: dict[str, tuple[str, ...]] = {}
    for pick in picks:
        for name, rules in pick.chains():
            chains.setdefault(name, rules)
    return sorted(chains.items())


def _add_chains(tx: Transaction, chains: list[tuple[str, tuple[str, ...]]]) -> None:
    for name, _ in chains:
        tx.add(Chain(name))
    for name, rules in chains:
        for rule in rules:
            tx.add(Rule(name, rule))


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
    for obj in base:
        if isinstance(obj, Rule):
            tx.add(obj)
    _add_chains(tx, _pick_chains(p for f in fragments.values() for p in f.picks))
    for key in sorted(applied.claims):
        owners = applied.claims[key]
        tx.add(next(iter(owners.values())) if len(owners) == 1 else owners[min(owners)])
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


def partial_sync(config: ProxyConfig, applied: Applied, changes: Changes) -> Transaction:
    """The transaction that turns `applied` into `applied` + `changes`."""
    tx = new_transaction(config)
    picks = (p for current in changes.values() if current for p in current.picks)
    _add_chains(tx, [c for c in _pick_chains(picks) if c[0] not in applied.chains])
    deletes: list[Element] = []
    adds: list[Element] = []
    for key in sorted(_element_keys(applied, changes)):
        before, after = applied.winner(key), _projected_winner(applied, changes, key)
        if before == after:
            continue
        if before is not None:
            deletes.append(before)
        if after is not None:
            adds.append(after)
    for elem in deletes:
        tx.delete(elem)
    for elem in adds:
        tx.add(elem)
    return tx
