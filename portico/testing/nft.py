"""An in-memory nftables with the kernel's transaction semantics, and a packet tracer.

`FakeNft` implements `portico.proxy.apply.NftRunner`. `apply(tx)` copies the
table (copy-on-write), applies every operation with the kernel's error rules
(missing objects, deleting a chain that still has rules or is referenced,
adding an element whose key exists with another value, deleting a referenced
set) and commits only if all succeed: as atomic as `nft -f -`. `dump()` prints
the state as sorted `add ...` lines (knftables' order: table, chains, sets, maps,
rules per chain in order, elements), the golden-test oracle.

`Tracer.trace(src, dst, port)` follows a new connection's first packet through
the base chains by hook and priority (prerouting, then input or forward, or
output when the source is a node address; then postrouting), interpreting only
the rule shapes `portico.proxy.render` writes, like kube-proxy's test tracer.
`numgen` forks, so the result lists every endpoint that may be picked
(`"10.244.1.5:8080, 10.244.2.3:8080"`), or `"REJECT"`, `"DROP"`, or `"ACCEPT"`
(passed without NAT), plus whether it was masqueraded. `update @set` adds to
the tracer's own copy of dynamic sets, so a second trace sees affinity.
"""

from __future__ import annotations

import copy
import ipaddress
import re
from dataclasses import dataclass, field, replace

from portico.proxy.apply import NftError
from portico.proxy.nftables import (
    Chain,
    Context,
    Element,
    Family,
    Hook,
    Map,
    Object,
    Rule,
    Set,
    Table,
    Transaction,
    Verb,
)

_REF = re.compile(r"(?:jump|goto) ([A-Za-z_.][\w./-]*)")
_SETREF = re.compile(r"@([A-Za-z_.][\w./-]*)")


@dataclass
class _Table:
    comment: str | None = None
    chains: dict[str, Chain] = field(default_factory=dict)
    rules: dict[str, list[Rule]] = field(default_factory=dict)
    sets: dict[str, Set] = field(default_factory=dict)
    elements: dict[str, dict[tuple[str, ...], Element]] = field(default_factory=dict)


class FakeNft:
    """NftRunner in memory; one `inet`/`ip` table per (family, name)."""

    def __init__(self) -> None:
        self.tables: dict[tuple[Family, str], _Table] = {}
        self.last_transaction: Transaction | None = None
        self.transactions = 0
        self.fail_next: str | None = None

    async def run(self, tx: Transaction) -> None:
        self.apply(tx)

    def apply(self, tx: Transaction) -> None:
        self.last_transaction = tx
        if self.fail_next:
            message, self.fail_next = self.fail_next, None
            raise NftError(message)
        key = (tx.family, tx.table)
        current = self.tables.get(key)
        table = copy.deepcopy(current) if current is not None else None
        for verb, obj in tx.operations:
            try:
                table = _apply(table, verb, obj)
            except NftError as exc:
                raise NftError(f"{verb} {obj.body(verb, _ctx(tx))}: {exc}") from None
        if table is None:
            self.tables.pop(key, None)
        else:
            self.tables[key] = table
        self.transactions += 1

    def table(self, family: Family, name: str) -> _Table:
        return self.tables[(family, name)]

    def dump(self, family: Family = Family.INET, name: str = "portico-proxy") -> str:
        t = self.tables.get((family, name))
        if t is None:
            return ""
        tx = Transaction(family, name)
        tx.add(Table(t.comment))
        for chain in sorted(t.chains):
            tx.add(t.chains[chain])
        for kind in (Set, Map):
            for s in sorted(n for n, o in t.sets.items() if type(o) is kind):
                tx.add(t.sets[s])
        for chain in sorted(t.rules):
            for rule in t.rules[chain]:
                tx.add(rule)
        for s in sorted(t.elements):
            for k in sorted(t.elements[s]):
                tx.add(t.elements[s][k])
        return tx.script()


def _ctx(tx: Transaction) -> Context:
    return Context(tx.family, tx.table)


def _referenced(t: _Table, name: str, pattern: re.Pattern[str]) -> bool:
    texts = [r.rule for rules in t.rules.values() for r in rules]
    texts += [" ".join(e.value) for elems in t.elements.values() for e in elems.values()]
    return any(name in pattern.findall(text) for text in texts)


def _apply(t: _Table | None, verb: Verb, obj: Object) -> _Table | None:
    if isinstance(obj, Table):
        if verb is Verb.ADD:
            return t if t is not None else _Table(obj.comment)
        if t is None:
            raise NftError("No such file or directory (table)")
        return None if verb is Verb.DELETE else _flush_table(t)
    if t is None:
        raise NftError("No such file or directory (table)")
    if isinstance(obj, Chain):
        _apply_chain(t, verb, obj)
    elif isinstance(obj, Rule):
        if obj.chain not in t.chains:
            raise NftError(f"No such file or directory (chain {obj.chain})")
        for ref in _REF.findall(obj.rule):
            if ref not in t.chains:
                raise NftError(f"No such file or directory (chain {ref})")
        for ref in _SETREF.findall(obj.rule):
            if ref not in t.sets:
                raise NftError(f"No such file or directory (set {ref})")
        t.rules[obj.chain].append(obj)
    elif isinstance(obj, Set):
        _apply_set(t, verb, obj)
    else:
        _apply_element(t, verb, obj)
    return t


def _flush_table(t: _Table) -> _Table:
    for chain in t.rules:
        t.rules[chain] = []
    for s in t.elements:
        t.elements[s] = {}
    return t


def _apply_chain(t: _Table, verb: Verb, obj: Chain) -> None:
    existing = t.chains.get(obj.name)
    if verb is Verb.ADD:
        if existing is None:
            t.chains[obj.name] = obj
            t.rules[obj.name] = []
        elif (existing.type, existing.hook, existing.priority) != (obj.type, obj.hook,
                                                                   obj.priority):
            raise NftError(f"Device or resource busy (chain {obj.name} redefined)")
        return
    if existing is None:
        raise NftError(f"No such file or directory (chain {obj.name})")
    if verb is Verb.FLUSH:
        t.rules[obj.name] = []
        return
    if t.rules[obj.name] or _referenced(t, obj.name, _REF):
        raise NftError(f"Device or resource busy (chain {obj.name} in use)")
    del t.chains[obj.name], t.rules[obj.name]


def _apply_set(t: _Table, verb: Verb, obj: Set) -> None:
    existing = t.sets.get(obj.name)
    if verb is Verb.ADD:
        if existing is None:
            t.sets[obj.name] = obj
            t.elements[obj.name] = {}
        elif replace(existing, comment=None) != replace(obj, comment=None) or \
                type(existing) is not type(obj):
            raise NftError(f"File exists (set {obj.name} redefined)")
        return
    if existing is None:
        raise NftError(f"No such file or directory (set {obj.name})")
    if verb is Verb.FLUSH:
        t.elements[obj.name] = {}
        return
    if _referenced(t, obj.name, _SETREF):
        raise NftError(f"Device or resource busy (set {obj.name} in use)")
    del t.sets[obj.name], t.elements[obj.name]


def _apply_element(t: _Table, verb: Verb, obj: Element) -> None:
    if obj.container not in t.sets:
        raise NftError(f"No such file or directory (set {obj.container})")
    elems = t.elements[obj.container]
    existing = elems.get(obj.key)
    if verb is Verb.DELETE:
        if existing is None:
            raise NftError(f"No such file or directory (element {obj.key})")
        del elems[obj.key]
        return
    is_map = isinstance(t.sets[obj.container], Map)
    if is_map != bool(obj.value):
        raise NftError(f"Invalid argument (element {obj.key} of {obj.container})")
    for ref in _REF.findall(" ".join(obj.value)):
        if ref not in t.chains:
            raise NftError(f"No such file or directory (chain {ref})")
    if existing is not None and existing.value != obj.value:
        raise NftError(f"File exists (element {obj.key})")
    elems.setdefault(obj.key, obj)


# --- the packet tracer ---------------------------------------------------------------

_PRIORITIES = {"raw": -300, "mangle": -150, "dstnat": -100, "filter": 0, "security": 50,
               "srcnat": 100}


def _priority(text: str) -> int:
    m = re.fullmatch(r"([a-z]+)?\s*([+-])?\s*(\d+)?", text.strip())
    if not m:
        raise ValueError(text)
    name, sign, num = m.groups()
    if name is None:
        return int(f"{sign or ''}{num}")
    return _PRIORITIES[name] + (int(num or 0) * (-1 if sign == "-" else 1))


@dataclass(frozen=True)
class Packet:
    src: str
    dst: str
    proto: str
    port: int
    mark: int = 0
    dnat: str | None = None
    masquerade: bool = False

    @property
    def daddr(self) -> str:
        return self.dnat.rsplit(":", 1)[0] if self.dnat else self.dst

    @property
    def dport(self) -> int:
        return int(self.dnat.rsplit(":", 1)[1]) if self.dnat else self.port


@dataclass(frozen=True)
class TraceResult:
    output: str
    masquerade: bool


_RETURN, _ACCEPT, _DROP, _REJECT = "RETURN", "ACCEPT", "DROP", "REJECT"


class Tracer:
    """Trace new connections through a FakeNft table, as a node with `local_ips` sees them."""

    def __init__(self, nft: FakeNft, local_ips: tuple[str, ...], table: str = "portico-proxy",
                 family: Family = Family.INET) -> None:
        self.t = nft.table(family, table)
        self.local_ips = (*local_ips, "127.0.0.1")
        self.dynamic: dict[str, set[str]] = {}

    def _chains(self, hook: Hook) -> list[str]:
        found = [(_priority(c.priority or "0"), n) for n, c in self.t.chains.items()
                 if c.hook is hook]
        return [n for _, n in sorted(found)]

    def trace(self, src: str, dst: str, port: int, proto: str = "tcp") -> TraceResult:
        local = src in self.local_ips
        hooks = [Hook.OUTPUT] if local else [Hook.PREROUTING, None]
        branches = [Packet(src, dst, proto, port)]
        outcomes: list[tuple[Packet, str]] = []
        for hook in (*hooks, Hook.POSTROUTING):
            nxt: list[Packet] = []
            for pkt in branches:
                h = hook or (Hook.INPUT if pkt.daddr in self.local_ips else Hook.FORWARD)
                for out, verdict in self._hook(h, pkt):
                    if verdict in (_DROP, _REJECT):
                        outcomes.append((out, verdict))
                    else:
                        nxt.append(out)
            branches = nxt
        outcomes += [(p, p.dnat or _ACCEPT) for p in branches]
        outputs = sorted({o for _, o in outcomes})
        masq = any(p.masquerade for p, _ in outcomes)
        return TraceResult(", ".join(outputs), masq)

    def _hook(self, hook: Hook, pkt: Packet) -> list[tuple[Packet, str]]:
        branches = [(pkt, _ACCEPT)]
        for chain in self._chains(hook):
            nxt: list[tuple[Packet, str]] = []
            for p, v in branches:
                if v != _ACCEPT:
                    nxt.append((p, v))
                    continue
                for q, w in self._chain(chain, p, 0):
                    nxt.append((q, _ACCEPT if w == _RETURN else w))
            branches = nxt
        return branches

    def _chain(self, chain: str, pkt: Packet, start: int) -> list[tuple[Packet, str]]:
        rules = self.t.rules[chain]
        for i in range(start, len(rules)):
            results = self._rule(rules[i].rule, pkt)
            if results is None:
                continue
            out: list[tuple[Packet, str]] = []
            for p, v in results:
                out += self._chain(chain, p, i + 1) if v == "CONTINUE" else [(p, v)]
            return out
        return [(pkt, _RETURN)]

    def _rule(self, rule: str, pkt: Packet) -> list[tuple[Packet, str]] | None:
        """None if the rule does not match, else the branches after it."""
        toks = rule.replace("{", " { ").replace("}", " } ").replace(",", " , ").split()
        i = 0
        while i < len(toks):
            tok = toks[i]
            if tok == "ct":  # ct state new: traces are of new connections
                i += 3
            elif tok == "ip" and toks[i + 2] == ".":
                key = (pkt.daddr, pkt.proto, str(pkt.dport))
                return self._vmap(toks[i + 9][1:], key, pkt)
            elif tok == "ip":
                addr = pkt.src if toks[i + 1] == "saddr" else pkt.daddr
                negate = toks[i + 2] == "!="
                j = i + (3 if negate else 2)
                values, j = self._values(toks, j)
                if self._contains(values, addr) == negate:
                    return None
                i = j
            elif tok == "fib":
                addr = pkt.src if toks[i + 1] == "saddr" else pkt.daddr
                if addr not in self.local_ips:
                    return None
                i += 4
            elif tok == "meta" and toks[i + 1] == "l4proto" and toks[i + 2] == ".":
                return self._vmap(toks[i + 6][1:], (pkt.proto, str(pkt.dport)), pkt)
            elif tok == "meta" and toks[i + 1] == "l4proto":
                if toks[i + 2] != pkt.proto:
                    return None
                i += 3
            elif tok in ("tcp", "udp"):
                if tok != pkt.proto or int(toks[i + 2]) != pkt.dport:
                    return None
                i += 3
            elif tok == "meta" and toks[i + 2] == "&":
                if (pkt.mark & int(toks[i + 3], 16)) != int(toks[i + 5], 0):
                    return None
                i += 6
            elif tok == "meta" and toks[i + 2] == "set":
                bit = int(toks[i + 6], 16)
                mark = pkt.mark | bit if toks[i + 5] == "|" else pkt.mark ^ bit
                return [(replace(pkt, mark=mark), "CONTINUE")]
            elif tok == "update":
                self.dynamic.setdefault(toks[i + 1][1:], set()).add(pkt.src)
                return [(pkt, "CONTINUE")]
            elif tok == "numgen":
                end = toks.index("}", i)
                arms = " ".join(toks[i + 6:end]).split(" , ")
                out: list[tuple[Packet, str]] = []
                for arm in arms:
                    out += self._verdict(arm.split(" : ")[1], pkt)
                return out
            elif tok == "dnat":
                return [(replace(pkt, dnat=toks[i + 3]), _ACCEPT)]
            elif tok == "masquerade":
                return [(replace(pkt, masquerade=True), _ACCEPT)]
            else:
                return self._verdict(" ".join(toks[i:i + 2]), pkt)
        return [(pkt, "CONTINUE")]

    def _values(self, toks: list[str], j: int) -> tuple[list[str], int]:
        if toks[j] == "{":
            end = toks.index("}", j)
            return [v for v in toks[j + 1:end] if v != ","], end + 1
        return [toks[j]], j + 1

    def _contains(self, values: list[str], addr: str) -> bool:
        for value in values:
            if value.startswith("@"):
                name = value[1:]
                members = set(self.dynamic.get(name, ()))
                members |= {k[0] for k in self.t.elements.get(name, {})}
                if addr in members:
                    return True
            elif ipaddress.ip_address(addr) in ipaddress.ip_network(value, strict=False):
                return True
        return False

    def _vmap(self, name: str, key: tuple[str, ...], pkt: Packet
              ) -> list[tuple[Packet, str]] | None:
        elem = self.t.elements[name].get(key)
        return None if elem is None else self._verdict(" ".join(elem.value), pkt)

    def _verdict(self, verdict: str, pkt: Packet) -> list[tuple[Packet, str]]:
        word, _, target = verdict.partition(" ")
        if word == "goto":
            return self._chain(target, pkt, 0)
        if word == "jump":
            return [(p, "CONTINUE" if v == _RETURN else v) for p, v in
                    self._chain(target, pkt, 0)]
        return [(pkt, {"drop": _DROP, "reject": _REJECT, "accept": _ACCEPT,
                       "return": _RETURN}[word])]
