"""A small CEL parser for static analysis only (cost estimates, `oldSelf` use).

cel-cpp parses and type-checks every rule; its AST is not reachable from Python,
so this module re-parses rules that cel-cpp already accepted into a minimal tree
of `Node`s: literals, identifiers, field selections (`a.b`, `a.?b`), indexes,
calls (global and member) and the operators as calls named like cel's
(`_&&_`, `_?_:_`, `!_`, ...). Comprehension macros stay calls (`x.all(v, body)`);
the cost estimator gives them their meaning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_TOKEN = re.compile(r"""
    (?P<ws>\s+|//[^\n]*)
  | (?P<string>[rRbB]{0,2}("\"\"[\s\S]*?\"\"\"|'''[\s\S]*?'''|"(\\.|[^"\\\n])*"|'(\\.|[^'\\\n])*'))
  | (?P<number>0x[0-9a-fA-F]+[uU]?|\d+\.\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?
               |\d+[eE][+-]?\d+|\d+[uU]?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>\|\||&&|==|!=|<=|>=|\.\?|[-+*/%!<>?:.,()\[\]{}])
""", re.VERBOSE)

_BINARY_LEVELS: tuple[tuple[str, ...], ...] = (
    ("||",), ("&&",), ("==", "!=", "<", "<=", ">", ">=", "in"), ("+", "-"), ("*", "/", "%"),
)


class ParseError(Exception):
    pass


@dataclass
class Node:
    kind: str  # "literal", "ident", "select", "index", "call", "list", "map"
    name: str = ""
    args: list[Node] = field(default_factory=list)
    target: Node | None = None  # receiver of member calls, operand of select/index
    offset: int = -1  # where a select's `.` is in the source

    def walk(self) -> list[Node]:
        out = [self]
        if self.target is not None:
            out.extend(self.target.walk())
        for arg in self.args:
            out.extend(arg.walk())
        return out


def tokenize(source: str) -> list[tuple[str, str, int]]:
    """(kind, text, offset) of every token."""
    tokens: list[tuple[str, str, int]] = []
    pos = 0
    while pos < len(source):
        match = _TOKEN.match(source, pos)
        if not match:
            raise ParseError(f"unexpected character at {pos}")
        pos = match.end()
        kind = match.lastgroup or ""
        if kind != "ws":
            text = match.group(kind)
            kind = "op" if kind == "ident" and text == "in" else kind
            tokens.append((kind, text, match.start(kind)))
    return tokens


class _Parser:
    def __init__(self, tokens: list[tuple[str, str, int]]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> str:
        return self.tokens[self.pos][1] if self.pos < len(self.tokens) else ""

    def take(self, expected: str = "") -> tuple[str, str]:
        if self.pos >= len(self.tokens):
            raise ParseError("unexpected end")
        kind, text, _ = self.tokens[self.pos]
        if expected and text != expected:
            raise ParseError(f"expected {expected}, got {text}")
        self.pos += 1
        return kind, text

    def expr(self) -> Node:
        cond = self.binary(0)
        if self.peek() != "?":
            return cond
        self.take("?")
        then = self.binary(0)
        self.take(":")
        return Node("call", "_?_:_", [cond, then, self.expr()])

    def binary(self, level: int) -> Node:
        if level == len(_BINARY_LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        while self.peek() in _BINARY_LEVELS[level]:
            op = self.take()[1]
            left = Node("call", f"_{op}_", [left, self.binary(level + 1)])
        return left

    def unary(self) -> Node:
        if self.peek() in ("!", "-"):
            op = self.take()[1]
            return Node("call", f"{op}_", [self.unary()])
        return self.member(self.primary())

    def arguments(self, close: str) -> list[Node]:
        args: list[Node] = []
        while self.peek() != close:
            args.append(self.expr())
            if self.peek() == ",":
                self.take(",")
        self.take(close)
        return args

    def member(self, node: Node) -> Node:
        while self.peek() in (".", ".?", "["):
            offset = self.tokens[self.pos][2]
            op = self.take()[1]
            if op == "[":
                node = Node("index", args=[self.expr()], target=node)
                self.take("]")
                continue
            name = self.take()[1]
            if op == "." and self.peek() == "(":
                self.take("(")
                node = Node("call", name, self.arguments(")"), target=node)
            else:
                node = Node("select", name, target=node, offset=offset)
        return node

    def primary(self) -> Node:
        kind, text = self.take()
        if text == "(":
            node = self.expr()
            self.take(")")
            return node
        if text == "[":
            return Node("list", args=self.arguments("]"))
        if text == "{":
            return Node("map", args=self._map_entries())
        if text == ".":
            return self.primary()
        if kind == "ident" and self.peek() == "(":
            self.take("(")
            return Node("call", text, self.arguments(")"))
        if kind == "ident" and text not in ("true", "false", "null"):
            return Node("ident", text)
        return Node("literal", text)

    def _map_entries(self) -> list[Node]:
        entries: list[Node] = []
        while self.peek() != "}":
            entries.append(self.expr())
            self.take(":")
            entries.append(self.expr())
            if self.peek() == ",":
                self.take(",")
        self.take("}")
        return entries


def parse(source: str) -> Node:
    parser = _Parser(tokenize(source))
    node = parser.expr()
    if parser.pos != len(parser.tokens):
        raise ParseError("trailing input")
    return node


def uses_variable(node: Node, name: str) -> bool:
    return any(n.kind == "ident" and n.name == name for n in node.walk())
