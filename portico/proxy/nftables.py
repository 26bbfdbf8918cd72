"""nftables objects and transactions, after sigs.k8s.io/knftables.

Theory of operation: one frozen dataclass per kernel concept (`Table`, `Chain`,
`Rule`, `Set`, `Map`, `Element`). Rule bodies stay text in standard `nft`
syntax; the `nft` CLI grammar is the only well-documented interface, so we do
not invent an expression language. A `Transaction` collects `(verb, object)`
operations for one table, validates each object as it is added (raising
`ValueError` at once, unlike knftables' deferred error), and renders one script
for `nft -f -`, which the kernel applies atomically: all or nothing.

Invariants: every name is a valid nft identifier (letters, digits, `/ - _ .`,
starting with a letter, underscore or dot, at most `NAME_LENGTH_MAX` bytes);
rules never contain newlines or `;` outside braces, so one operation is one
line of the script.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum

NAME_LENGTH_MAX = 255
ELEMENTS_PER_COMMAND = 1000
_NAME = re.compile(r"^[A-Za-z_.][A-Za-z0-9_./-]*$")


class Family(StrEnum):
    """Address families of a table (https://wiki.nftables.org, 'Nftables families')."""

    IP = "ip"
    IP6 = "ip6"
    INET = "inet"


class ChainType(StrEnum):
    FILTER = "filter"
    NAT = "nat"
    ROUTE = "route"


class Hook(StrEnum):
    PREROUTING = "prerouting"
    INPUT = "input"
    FORWARD = "forward"
    OUTPUT = "output"
    POSTROUTING = "postrouting"


class Priority(StrEnum):
    """Named base-chain priorities; `nft` also accepts `dstnat - 10` style offsets."""

    RAW = "raw"
    MANGLE = "mangle"
    DSTNAT = "dstnat"
    FILTER = "filter"
    SECURITY = "security"
    SRCNAT = "srcnat"


class Verb(StrEnum):
    ADD = "add"
    FLUSH = "flush"
    DELETE = "delete"


@functools.lru_cache(maxsize=4096)  # names repeat: one check per set, not per element
def _check_name(kind: str, name: str) -> None:
    if not name or len(name) > NAME_LENGTH_MAX or not _NAME.match(name):
        raise ValueError(f"invalid {kind} name {name!r}")


def _check_text(kind: str, text: str) -> None:
    if not text or "\n" in text or text != text.strip():
        raise ValueError(f"invalid {kind} {text!r}")


def _comment(comment: str | None) -> str:
    if comment is None:
        return ""
    if '"' in comment or "\n" in comment:
        raise ValueError(f"invalid comment {comment!r}")
    return f'comment "{comment}" ; '


@dataclass(frozen=True)
class Table:
    comment: str | None = None

    def validate(self, verb: Verb) -> None:
        _comment(self.comment)

    def body(self, verb: Verb, ctx: Context) -> str:
        props = _comment(self.comment) if verb is Verb.ADD else ""
        return f"table {ctx}" + (f" {{ {props}}}" if props else "")


@dataclass(frozen=True)
class Chain:
    """A chain; a base chain when `type`, `hook` and `priority` are all set."""

    name: str
    type: ChainType | None = None
    hook: Hook | None = None
    priority: str | None = None
    comment: str | None = None

    @property
    def is_base(self) -> bool:
        return self.hook is not None

    def validate(self, verb: Verb) -> None:
        _check_name("chain", self.name)
        parts = (self.type, self.hook, self.priority)
        if any(p is not None for p in parts) and any(p is None for p in parts):
            raise ValueError(f"base chain {self.name}: type, hook and priority go together")
        _comment(self.comment)

    def body(self, verb: Verb, ctx: Context) -> str:
        text = f"chain {ctx} {self.name}"
        if verb is not Verb.ADD:
            return text
        props = ""
        if self.is_base:
            props += f"type {self.type} hook {self.hook} priority {self.priority} ; "
        props += _comment(self.comment)
        return text + (f" {{ {props}}}" if props else "")


@dataclass(frozen=True)
class Rule:
    chain: str
    rule: str
    comment: str | None = None

    def validate(self, verb: Verb) -> None:
        if verb is not Verb.ADD:
            raise ValueError("rules are only added; flush their chain to remove them")
        _check_name("chain", self.chain)
        _check_text("rule", self.rule)
        _comment(self.comment)

    def body(self, verb: Verb, ctx: Context) -> str:
        tail = f' comment "{self.comment}"' if self.comment else ""
        return f"rule {ctx} {self.chain} {self.rule}{tail}"


@dataclass(frozen=True)
class Set:
    """A named set, e.g. `type ipv4_addr ; flags dynamic,timeout ; timeout 10800s`."""

    name: str
    type: str
    flags: tuple[str, ...] = ()
    timeout: int | None = None
    comment: str | None = None

    keyword = "set"

    def validate(self, verb: Verb) -> None:
        _check_name(self.keyword, self.name)
        if verb is Verb.ADD:
            _check_text(f"{self.keyword} type", self.type)
        _comment(self.comment)

    def body(self, verb: Verb, ctx: Context) -> str:
        text = f"{self.keyword} {ctx} {self.name}"
        if verb is not Verb.ADD:
            return text
        props = f"type {self.type} ; "
        if self.flags:
            props += f"flags {','.join(self.flags)} ; "
        if self.timeout is not None:
            props += f"timeout {self.timeout}s ; "
        props += _comment(self.comment)
        return f"{text} {{ {props}}}"


@dataclass(frozen=True)
class Map(Set):
    """A named map; a verdict map when `type` ends in `: verdict`."""

    keyword = "map"


@dataclass(frozen=True, slots=True)
class Element:
    """An element of the set or map `container`; `value` only for maps."""

    container: str
    key: tuple[str, ...]
    value: tuple[str, ...] = ()
    comment: str | None = None

    def validate(self, verb: Verb) -> None:
        _check_name("set or map", self.container)
        if verb is Verb.FLUSH:
            raise ValueError("elements cannot be flushed")
        if not self.key:
            raise ValueError(f"element of {self.container}: empty key")
        for parts in (self.key, self.value):
            for part in parts:  # inline _check_text: this runs once per element
                if not part or "\n" in part or part != part.strip():
                    raise ValueError(f"invalid element part {part!r}")
        if self.comment is not None:
            _comment(self.comment)

    def text(self, verb: Verb) -> str:
        """The element as it appears between the braces of an element command."""
        text = " . ".join(self.key)
        if self.comment and verb is Verb.ADD:
            text += f' comment "{self.comment}"'
        if self.value and verb is Verb.ADD:
            text += " : " + " . ".join(self.value)
        return text

    def body(self, verb: Verb, ctx: Context) -> str:
        return f"element {ctx} {self.container} {{ {self.text(verb)} }}"


Object = Table | Chain | Rule | Set | Map | Element


@dataclass(frozen=True)
class Context:
    family: Family
    table: str

    def __str__(self) -> str:
        return f"{self.family} {self.table}"


@dataclass
class Transaction:
    """Operations on one table, applied atomically by one `nft -f -`."""

    family: Family
    table: str
    operations: list[tuple[Verb, Object]] = field(default_factory=list)

    def __post_init__(self) -> None:
        _check_name("table", self.table)

    def _operation(self, verb: Verb, obj: Object) -> None:
        obj.validate(verb)
        self.operations.append((verb, obj))

    def add(self, obj: Object) -> None:
        self._operation(Verb.ADD, obj)

    def flush(self, obj: Object) -> None:
        self._operation(Verb.FLUSH, obj)

    def delete(self, obj: Object) -> None:
        self._operation(Verb.DELETE, obj)

    def __len__(self) -> int:
        return len(self.operations)

    def lines(self) -> Iterator[str]:
        ctx = Context(self.family, self.table)
        for verb, obj in self.operations:
            yield f"{verb} {obj.body(verb, ctx)}"

    def script(self) -> str:
        """The whole transaction as `nft -f` input, one command per line.

        Consecutive element operations with the same verb and set become one
        command of up to `ELEMENTS_PER_COMMAND` elements: `nft` parses and
        sends them far faster than one command per element (2 s instead of
        4.4 s for 120k elements on nft 1.0.6).
        """
        ctx = Context(self.family, self.table)
        out: list[str] = []
        group: list[Element] = []
        group_verb = Verb.ADD

        def close() -> None:
            if group:
                texts = ", ".join(e.text(group_verb) for e in group)
                out.append(f"{group_verb} element {ctx} {group[0].container} {{ {texts} }}\n")
                group.clear()

        for verb, obj in self.operations:
            if isinstance(obj, Element):
                if group and (verb is not group_verb or obj.container != group[0].container
                              or len(group) >= ELEMENTS_PER_COMMAND):
                    close()
                group_verb = verb
                group.append(obj)
            else:
                close()
                out.append(f"{verb} {obj.body(verb, ctx)}\n")
        close()
        return "".join(out)
