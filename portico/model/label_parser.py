"""The label selector text syntax, as apimachinery's `labels.Parse` reads it.

Theory of operation
-------------------
`parse_label_selector_text` runs upstream's two-stage machine, reproduced token for
token so that error strings match:

* a lexer that splits on whitespace and the special symbols `= ! ( ) , > <`, greedily
  combining symbols into the longest operator it knows (`==`, `!=`), and that treats
  the words `in`/`notin` as keywords (demoted back to identifiers where a value or a
  key is expected);
* a recursive-descent parser producing the requirements (each built and validated by
  `selectors.new_requirement`).

A failure raises `SelectorError` carrying the parser's `err.Error()`, e.g. `found '=',
expected: ',' or 'end of string'`; the API server turns it into 400 BadRequest.  Pure:
no I/O.
"""

from __future__ import annotations

import enum

from portico.model.selectors import (
    BINARY_OPERATORS,
    LabelSelector,
    Operator,
    Requirement,
    SelectorError,
    new_requirement,
    selector_from_requirements,
)
from portico.model.validation import go_quote, is_qualified_name

__all__ = ["parse_label_selector_text"]

# --- label selector lexer --------------------------------------------------------------------


class Token(enum.StrEnum):
    """The lexer's token kinds (`labels.Token`)."""

    END = "end of string"
    CLOSED_PAR = ")"
    COMMA = ","
    DOES_NOT_EXIST = "!"
    DOUBLE_EQUALS = "=="
    EQUALS = "="
    GREATER_THAN = ">"
    IDENTIFIER = "identifier"
    IN = "in"
    LESS_THAN = "<"
    NOT_EQUALS = "!="
    NOT_IN = "notin"
    OPEN_PAR = "("


_LITERALS = {t.value: t for t in Token if t not in (Token.END, Token.IDENTIFIER)}
_SPECIAL = frozenset("=!(),><")
_WHITESPACE = frozenset(" \t\r\n")
_NUL = "\x00"


class _Lexer:
    """`labels.Lexer`; reading past the end yields NUL, which (like a real NUL) ends input."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def _read(self) -> str:
        if self.pos < len(self.text):
            self.pos += 1
            return self.text[self.pos - 1]
        return _NUL

    def _scan_id_or_keyword(self) -> tuple[Token, str]:
        buffer = []
        while True:
            ch = self._read()
            if ch == _NUL:
                break
            if ch in _SPECIAL or ch in _WHITESPACE:
                self.pos -= 1
                break
            buffer.append(ch)
        word = "".join(buffer)
        return _LITERALS.get(word, Token.IDENTIFIER), word

    def _scan_special_symbol(self) -> tuple[Token, str]:
        """Longest known operator; the first character is always one (no error token)."""
        buffer = ""
        last = (Token.END, "")
        while True:
            ch = self._read()
            if ch == _NUL:
                break
            if ch not in _SPECIAL:
                self.pos -= 1
                break
            buffer += ch
            if buffer in _LITERALS:
                last = (_LITERALS[buffer], buffer)
            elif last[1]:
                self.pos -= 1
                break
        return last

    def lex(self) -> tuple[Token, str]:
        ch = self._read()
        while ch in _WHITESPACE:
            ch = self._read()
        if ch == _NUL:
            return Token.END, ""
        self.pos -= 1
        if ch in _SPECIAL:
            return self._scan_special_symbol()
        return self._scan_id_or_keyword()


# --- label selector parser -------------------------------------------------------------------

_KEY_AND_OPERATOR, _VALUES = "key-and-operator", "values"
_BINARY_TOKENS = {Token.IN: Operator.IN, Token.NOT_IN: Operator.NOT_IN,
                  Token.EQUALS: Operator.EQUALS, Token.DOUBLE_EQUALS: Operator.DOUBLE_EQUALS,
                  Token.NOT_EQUALS: Operator.NOT_EQUALS, Token.GREATER_THAN:
                  Operator.GREATER_THAN, Token.LESS_THAN: Operator.LESS_THAN}


class _Parser:
    """`labels.Parser`: look-ahead over the scanned tokens; errors are `SelectorError`."""

    def __init__(self, text: str) -> None:
        lexer = _Lexer(text)
        self.items: list[tuple[Token, str]] = []
        while True:
            item = lexer.lex()
            self.items.append(item)
            if item[0] is Token.END:
                break
        self.position = 0

    def lookahead(self, context: str) -> tuple[Token, str]:
        tok, lit = self.items[self.position]
        if context == _VALUES and tok in (Token.IN, Token.NOT_IN):
            tok = Token.IDENTIFIER
        return tok, lit

    def consume(self, context: str) -> tuple[Token, str]:
        item = self.lookahead(context)
        self.position += 1
        return item

    def parse(self) -> list[Requirement]:
        requirements: list[Requirement] = []
        while True:
            tok, lit = self.lookahead(_VALUES)
            if tok is Token.END:
                return requirements
            if tok not in (Token.IDENTIFIER, Token.DOES_NOT_EXIST):
                raise SelectorError(f"found '{lit}', expected: !, identifier, or 'end of string'")
            try:
                requirements.append(self.parse_requirement())
            except SelectorError as err:
                raise SelectorError(f"unable to parse requirement: {err}") from None
            tok, lit = self.consume(_VALUES)
            if tok is Token.END:
                return requirements
            if tok is not Token.COMMA:
                raise SelectorError(f"found '{lit}', expected: ',' or 'end of string'")
            tok2, lit2 = self.lookahead(_VALUES)
            if tok2 not in (Token.IDENTIFIER, Token.DOES_NOT_EXIST):
                raise SelectorError(f"found '{lit2}', expected: identifier after ','")

    def parse_requirement(self) -> Requirement:
        key, operator = self.parse_key_and_infer_operator()
        if operator in (Operator.EXISTS, Operator.DOES_NOT_EXIST):
            return new_requirement(key, operator, [])
        tok, lit = self.consume(_KEY_AND_OPERATOR)
        if tok not in _BINARY_TOKENS:
            expected = ", ".join(op.value for op in BINARY_OPERATORS)
            raise SelectorError(f"found '{lit}', expected: {expected}")
        operator = _BINARY_TOKENS[tok]
        if operator in (Operator.IN, Operator.NOT_IN):
            values = self.parse_values()
        else:
            values = self.parse_exact_value()
        return new_requirement(key, operator, sorted(values))

    def parse_key_and_infer_operator(self) -> tuple[str, Operator | None]:
        operator: Operator | None = None
        tok, literal = self.consume(_VALUES)
        if tok is Token.DOES_NOT_EXIST:
            operator = Operator.DOES_NOT_EXIST
            tok, literal = self.consume(_VALUES)
        if tok is not Token.IDENTIFIER:
            raise SelectorError(f"found '{literal}', expected: identifier")
        problems = is_qualified_name(literal)
        if problems:
            detail = "; ".join(problems)
            raise SelectorError(f"<nil>: Invalid value: {go_quote(literal)}: {detail}")
        if self.lookahead(_VALUES)[0] in (Token.END, Token.COMMA) and operator is None:
            operator = Operator.EXISTS
        return literal, operator

    def parse_values(self) -> set[str]:
        tok, lit = self.consume(_VALUES)
        if tok is not Token.OPEN_PAR:
            raise SelectorError(f"found '{lit}' expected: '('")
        tok, lit = self.lookahead(_VALUES)
        if tok in (Token.IDENTIFIER, Token.COMMA):
            values = self.parse_identifiers_list()
            if self.consume(_VALUES)[0] is not Token.CLOSED_PAR:
                raise SelectorError(f"found '{lit}', expected: ')'")
            return values
        if tok is Token.CLOSED_PAR:
            self.consume(_VALUES)
            return {""}
        raise SelectorError(f"found '{lit}', expected: ',', ')' or identifier")

    def parse_identifiers_list(self) -> set[str]:
        values: set[str] = set()
        while True:
            tok, lit = self.consume(_VALUES)
            if tok is Token.IDENTIFIER:
                values.add(lit)
                tok2, lit2 = self.lookahead(_VALUES)
                if tok2 is Token.CLOSED_PAR:
                    return values
                if tok2 is not Token.COMMA:
                    raise SelectorError(f"found '{lit2}', expected: ',' or ')'")
            elif tok is Token.COMMA:
                if not values:
                    values.add("")
                tok2 = self.lookahead(_VALUES)[0]
                if tok2 is Token.CLOSED_PAR:
                    values.add("")
                    return values
                if tok2 is Token.COMMA:
                    values.add("")
            else:
                raise SelectorError(f"found '{lit}', expected: ',', or identifier")

    def parse_exact_value(self) -> set[str]:
        if self.lookahead(_VALUES)[0] in (Token.END, Token.COMMA):
            return {""}
        tok, lit = self.consume(_VALUES)
        if tok is Token.IDENTIFIER:
            return {lit}
        raise SelectorError(f"found '{lit}', expected: identifier")


def parse_label_selector_text(text: str) -> LabelSelector:
    """`labels.Parse`: the selector `text` stands for; raises `SelectorError` if invalid."""
    return selector_from_requirements(_Parser(text).parse())
