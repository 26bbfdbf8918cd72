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
        return "".join(line + "\n" for line in tx.lines())


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
_FIELDS = frozenset({("ip", "saddr"), ("ip", "daddr"), ("meta", "l4proto"), ("th", "dport"),
                     ("ct", "mark")})


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
    ct_mark: int = 0
    dnat: str | None = None
    masquerade: bool = False

    @property
    def daddr(self) -> str:
        return self.dnat.rsplit(":", 1)[0] if self.dnat else self.dst

    @property
    def dport(self) -> int:
        return int(self.dnat.rsplit(":", 1)[1]) if self.dnat else self.port

    def field(self, name: tuple[str, str]) -> str:
        return {("ip", "saddr"): self.src, ("ip", "daddr"): self.daddr,
                ("meta", "l4proto"): self.proto, ("th", "dport"): str(self.dport),
                ("ct", "mark"): str(self.ct_mark)}[name]


@dataclass(frozen=True)
class TraceResult:
    output: str
    masquerade: bool


_RETURN, _ACCEPT, _DROP, _REJECT, _CONTINUE = "RETURN", "ACCEPT", "DROP", "REJECT", "CONTINUE"
Branches = list[tuple[Packet, str]]


def _part_matches(pattern: str, value: str) -> bool:
    """One part of a set element (a value, a CIDR or a range) against a packet's value."""
    if pattern == value:
        return True
    if "/" in pattern:
        return ipaddress.ip_address(value) in ipaddress.ip_network(pattern, strict=False)
    if "-" in pattern and pattern[0].isdigit() and value.isdigit():
        low, high = pattern.split("-")
        return int(low, 0) <= int(value) <= int(high, 0)
    return False


class Tracer:
    """Trace new connections through a FakeNft table, as a node with `local_ips` sees them.

    Only the rule shapes `portico.proxy.layout` and `portico.netpol.render` write are
    understood (trace the policy table with `table="portico-netpol"`, addresses as
    its postrouting chains see them: after DNAT and SNAT): conditions
    on `ip saddr/daddr`, concatenations of `ip saddr/daddr`, `meta l4proto`, `th
    dport` and `ct mark` matched against values, CIDRs, ranges and `@sets`
    (interval sets too), `vmap @map`, `fib ... type local`, `ct state/status`,
    `meta mark` tests and updates, `ct mark set numgen random mod N [offset O]`
    (which forks the trace, one branch per slot), `ct mark set <concat> map @m`,
    `update @m { <concat> timeout Ts : ct mark }` (recorded in `dynamic`, so a
    later trace sees it, not the rest of this one), `dnat ip to <concat> map @m`,
    `masquerade`, `counter` and verdicts; `ct state` matches when it lists `new`.
    """

    def __init__(self, nft: FakeNft, local_ips: tuple[str, ...], table: str = "portico-proxy",
                 family: Family = Family.INET) -> None:
        self.nft, self.family, self.table = nft, family, table
        self.local_ips = (*local_ips, "127.0.0.1")
        self.dynamic: dict[str, dict[tuple[str, ...], tuple[str, ...]]] = {}
        self._updates: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = []

    @property
    def t(self) -> _Table:
        """The table as it is now (a sync replaces it; the tracer keeps its dynamic sets)."""
        return self.nft.table(self.family, self.table)

    def _chains(self, hook: Hook) -> list[str]:
        found = [(_priority(c.priority or "0"), n) for n, c in self.t.chains.items()
                 if c.hook is hook]
        return [n for _, n in sorted(found)]

    def trace(self, src: str, dst: str, port: int, proto: str = "tcp") -> TraceResult:
        local = src in self.local_ips
        hooks = [Hook.OUTPUT] if local else [Hook.PREROUTING, None]
        branches = [Packet(src, dst, proto, port)]
        outcomes: Branches = []
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
        # `update`s become visible to later traces only: the branches of one trace
        # are alternatives, not successive connections.
        for name, key, value in self._updates:
            self.dynamic.setdefault(name, {})[key] = value
        self._updates.clear()
        outputs = sorted({o for _, o in outcomes})
        masq = any(p.masquerade for p, _ in outcomes)
        return TraceResult(", ".join(outputs), masq)

    def _hook(self, hook: Hook, pkt: Packet) -> Branches:
        branches = [(pkt, _ACCEPT)]
        for chain in self._chains(hook):
            nxt: Branches = []
            for p, v in branches:
                if v != _ACCEPT:
                    nxt.append((p, v))
                    continue
                for q, w in self._chain(chain, p, 0):
                    nxt.append((q, _ACCEPT if w == _RETURN else w))
            branches = nxt
        return branches

    def _chain(self, chain: str, pkt: Packet, start: int) -> Branches:
        rules = self.t.rules[chain]
        if start >= len(rules):
            return [(pkt, _RETURN)]
        toks = rules[start].rule.replace("{", " { ").replace("}", " } ").replace(",", " , ")
        out: Branches = []
        for p, v in self._rule(toks.split(), 0, pkt):
            out += self._chain(chain, p, start + 1) if v == _CONTINUE else [(p, v)]
        return out

    def _rule(self, toks: list[str], i: int, pkt: Packet) -> Branches:
        """The branches after the rule from token `i` on; CONTINUE = go on to the next rule."""
        while i < len(toks):
            tok, nxt = toks[i], toks[i + 1] if i + 1 < len(toks) else ""
            if tok == "ct" and nxt == "state":  # traces are of new connections: `new`
                end = _after_flags(toks, i + 2)  # and `! established,related` both match
                states = {s for t in toks[i + 2:end] if t not in ("!", ",") for s in t.split(",")}
                if ("new" in states) == (toks[i + 2] == "!"):
                    return [(pkt, _CONTINUE)]
                i = end
            elif tok == "counter":
                i += 1
            elif tok == "ct" and nxt == "status":  # ct status [!] dnat
                negate = toks[i + 2] == "!"
                if (pkt.dnat is None) != negate:
                    return [(pkt, _CONTINUE)]
                i = _after_flags(toks, i + 2)
            elif tok == "ct" and nxt == "mark" and toks[i + 2] == "set":
                return self._set_ct_mark(toks, i + 3, pkt)
            elif tok == "meta" and toks[i + 2] == "&":
                if (pkt.mark & int(toks[i + 3], 16)) != int(toks[i + 5], 0):
                    return [(pkt, _CONTINUE)]
                i += 6
            elif tok == "meta" and toks[i + 2] == "set":
                bit = int(toks[i + 6], 16)
                mark = pkt.mark | bit if toks[i + 5] == "|" else pkt.mark ^ bit
                return [(replace(pkt, mark=mark), _CONTINUE)]
            elif tok == "fib":
                if pkt.field(("ip", nxt)) not in self.local_ips:
                    return [(pkt, _CONTINUE)]
                i += 4
            elif tok == "update":  # update @m { <concat> timeout Ts : <concat> }
                key, j = self._concat(toks, i + 3, pkt)
                value, j = self._concat(toks, j + 3, pkt)
                self._updates.append((toks[i + 1][1:], key, value))
                i = j + 1
            elif tok == "dnat":  # dnat ip to <concat> map @m
                key, j = self._concat(toks, i + 3, pkt)
                target = self._lookup(toks[j + 1][1:], key)
                if target is None:
                    return [(pkt, _CONTINUE)]  # a failed lookup ends the rule
                return [(replace(pkt, dnat=":".join(target)), _ACCEPT)]
            elif tok == "masquerade":
                return [(replace(pkt, masquerade=True), _ACCEPT)]
            elif (tok, nxt) in _FIELDS:
                matched, i = self._match(toks, i, pkt)
                if isinstance(matched, list):
                    return matched
                if not matched:
                    return [(pkt, _CONTINUE)]
            else:
                return self._verdict(" ".join(toks[i:i + 2]), pkt)
        return [(pkt, _CONTINUE)]

    def _set_ct_mark(self, toks: list[str], i: int, pkt: Packet) -> Branches:
        if toks[i] == "numgen":  # numgen random mod N [offset O]: one branch per slot
            count, j, offset = int(toks[i + 3]), i + 4, 0
            if j < len(toks) and toks[j] == "offset":
                offset, j = int(toks[j + 1]), j + 2
            out: Branches = []
            for slot in range(offset, offset + count):
                out += self._rule(toks, j, replace(pkt, ct_mark=slot))
            return out
        key, j = self._concat(toks, i, pkt)  # <concat> map @m
        value = self._lookup(toks[j + 1][1:], key)
        if value is None:
            return [(pkt, _CONTINUE)]
        return self._rule(toks, j + 2, replace(pkt, ct_mark=int(value[0], 0)))

    def _concat(self, toks: list[str], i: int, pkt: Packet) -> tuple[tuple[str, ...], int]:
        """The packet's values of `a b . c d . ...` from token `i`, and the next token."""
        values = [pkt.field((toks[i], toks[i + 1]))]
        i += 2
        while i < len(toks) and toks[i] == ".":
            values.append(pkt.field((toks[i + 1], toks[i + 2])))
            i += 3
        return tuple(values), i

    def _match(self, toks: list[str], i: int, pkt: Packet) -> tuple[bool | Branches, int]:
        key, i = self._concat(toks, i, pkt)
        if toks[i] == "vmap":
            verdict = self._lookup(toks[i + 1][1:], key)
            if verdict is None:
                return False, i + 2
            return self._verdict(" ".join(verdict), pkt), i + 2
        negate = toks[i] == "!="
        i += 1 if negate else 0
        if toks[i] == "{":
            end = toks.index("}", i)
            values, i = [v for v in toks[i + 1:end] if v != ","], end + 1
        else:
            values, i = [toks[i]], i + 1
        hit = any(self._member(v[1:], key) if v.startswith("@") else _part_matches(v, key[0])
                  for v in values)
        return hit != negate, i

    def _lookup(self, name: str, key: tuple[str, ...]) -> tuple[str, ...] | None:
        elem = self.t.elements[name].get(key)
        return elem.value if elem is not None else self.dynamic.get(name, {}).get(key)

    def _member(self, name: str, key: tuple[str, ...]) -> bool:
        elems = self.t.elements[name]
        if key in elems or key in self.dynamic.get(name, {}):
            return True
        return "interval" in self.t.sets[name].flags and any(
            len(k) == len(key) and all(_part_matches(p, v) for p, v in zip(k, key, strict=True))
            for k in elems)

    def _verdict(self, verdict: str, pkt: Packet) -> Branches:
        word, _, target = verdict.partition(" ")
        if word == "goto":
            return self._chain(target, pkt, 0)
        if word == "jump":
            return [(p, _CONTINUE if v == _RETURN else v) for p, v in self._chain(target, pkt, 0)]
        return [(pkt, {"drop": _DROP, "reject": _REJECT, "accept": _ACCEPT,
                       "return": _RETURN}[word])]


def _after_flags(toks: list[str], i: int) -> int:
    """The token after a flag list `[!] a , b , ...` starting at `i`."""
    i += 2 if toks[i] == "!" else 1
    while i < len(toks) and toks[i] == ",":
        i += 2
    return i
