"""The `labelSelector` and `fieldSelector` list/watch query parameters, as kube-apiserver.

Theory of operation
-------------------
Label selectors: `parse_label_selector` runs upstream's `labels.Parse` (a lexer feeding
a recursive-descent parser, reproduced token for token so error strings match) and
builds requirements with `portico.model.selectors`. A parse failure is 400 BadRequest
with the parser's `err.Error()`, e.g. `found '=', expected: ',' or 'end of string'`.

Field selectors: `parse_field_selector` is `fields.ParseSelector` (comma-separated
`field=value`, `field==value`, `field!=value`; `\\`, `\\,` and `\\=` escape inside
values; terms are sorted) followed by the handler's field-label conversion
(`Scheme.ConvertFieldLabel`): every field must be one the kind supports, otherwise
400 BadRequest with the message of the kind's conversion function. kubectl prefixes
that message itself ("Unable to find ... that match label selector ...").

`FieldSelector.matches` takes the kind's flat field set (upstream `GetAttrs`); an
absent field compares as the empty string, as upstream.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from portico.apiserver.errors import bad_request
from portico.model.selectors import (
    BINARY_OPERATORS,
    LabelSelector,
    Operator,
    Requirement,
    SelectorError,
    go_quote,
    is_qualified_name,
    new_requirement,
    selector_from_label_selector_object,
    selector_from_requirements,
)

__all__ = [
    "FieldSelector",
    "LabelSelector",
    "parse_field_selector",
    "parse_label_selector",
    "selector_from_label_selector_object",
]

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


def parse_label_selector(text: str) -> LabelSelector:
    """`labels.Parse` for the `labelSelector` parameter; 400 BadRequest on invalid input."""
    try:
        return selector_from_requirements(_Parser(text).parse())
    except SelectorError as err:
        raise bad_request(str(err)) from None


# --- field selectors -------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldSelector:
    """Parsed `fieldSelector`: an AND of (field, operator, value) terms, sorted as upstream."""

    terms: tuple[tuple[str, Operator, str], ...] = ()

    def matches(self, fields: Mapping[str, str]) -> bool:
        for field, op, value in self.terms:
            equal = fields.get(field, "") == value
            if equal != (op is Operator.EQUALS):
                return False
        return True

    def empty(self) -> bool:
        return not self.terms

    def requirements(self) -> list[tuple[str, str, str]]:
        return [(f, op.value, v) for f, op, v in self.terms]

    def requires_exact_match(self, field: str) -> str | None:
        """The value an `=` term pins `field` to, if any (upstream `RequiresExactMatch`)."""
        for f, op, v in self.terms:
            if f == field and op is Operator.EQUALS:
                return v
        return None

    def __str__(self) -> str:
        return ",".join(f"{f}{op.value}{escape_field_value(v)}" for f, op, v in self.terms)


def escape_field_value(value: str) -> str:
    """`fields.EscapeValue`: backslash-escape `\\`, `,` and `=`."""
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def _split_terms(text: str) -> list[str]:
    """Split on commas not escaped by a backslash (escapes stay in the terms)."""
    if not text:
        return []
    terms, start, in_slash = [], 0, False
    for i, ch in enumerate(text):
        if in_slash:
            in_slash = False
        elif ch == "\\":
            in_slash = True
        elif ch == ",":
            terms.append(text[start:i])
            start = i + 1
    terms.append(text[start:])
    return terms


def _split_term(term: str) -> tuple[str, str, str] | None:
    """The first `!=`, `==` or `=` splits the term; the left side has no escaping."""
    for i in range(len(term)):
        for op in ("!=", "==", "="):
            if term.startswith(op, i):
                return term[:i], op, term[i + len(op):]
    return None


def _unescape_value(value: str) -> str:
    out, in_slash = [], False
    for ch in value:
        if in_slash:
            if ch not in "\\,=":
                raise bad_request(f"invalid field selector: invalid escape sequence: \\{ch}")
            out.append(ch)
            in_slash = False
        elif ch == "\\":
            in_slash = True
        elif ch in ",=":
            raise bad_request(
                f"invalid field selector: unescaped character in value: {ord(ch)}")
        else:
            out.append(ch)
    if in_slash:
        raise bad_request("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


# Kinds whose scheme registers a field-label conversion function, with its rejection text;
# every other kind falls back to `runtime.DefaultMetaV1FieldSelectorConversion`.
_NOT_SUPPORTED = "field label not supported: {label}"
_CONVERSION_MESSAGES: dict[tuple[str, str], str] = {
    **{("v1", kind): _NOT_SUPPORTED for kind in (
        "Pod", "Node", "ReplicationController", "Event", "Namespace", "Secret", "Service")},
    ("certificates.k8s.io/v1", "CertificateSigningRequest"): _NOT_SUPPORTED,
}


def unsupported_field_message(label: str, kind: str, version: str) -> str:
    """The conversion function's error for `label` on `version` (apiVersion) `kind`."""
    template = _CONVERSION_MESSAGES.get((version, kind))
    if template is not None:
        return template.format(label=label)
    return (f"{go_quote(label)} is not a known field selector: only "
            '"metadata.name", "metadata.namespace"')


def parse_field_selector(
    text: str, supported: Collection[str], kind: str, version: str, custom: bool = False,
) -> FieldSelector:
    """`fields.ParseSelector` + field-label conversion; 400 BadRequest when either fails.

    `supported` is the kind's set of selectable fields (authoritative); `kind` and
    `version` (the apiVersion, e.g. "v1", "apps/v1") only choose the error wording,
    as `custom` does (a custom resource's converter: "field label not supported").
    """
    terms: list[tuple[str, Operator, str]] = []
    for part in sorted(_split_terms(text)):
        if not part:
            continue
        split = _split_term(part)
        if split is None:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{part}'")
        field, op, raw = split
        value = _unescape_value(raw)
        terms.append((field, Operator.NOT_EQUALS if op == "!=" else Operator.EQUALS,
                      value))
    for field, _, _ in terms:
        if field not in supported:
            raise bad_request(f"field label not supported: {field}" if custom
                              else unsupported_field_message(field, kind, version))
    return FieldSelector(tuple(terms))
