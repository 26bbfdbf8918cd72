"""The `labelSelector` and `fieldSelector` list/watch query parameters, as kube-apiserver.

Theory of operation
-------------------
Label selectors: `parse_label_selector` runs upstream's `labels.Parse`
(`portico.model.label_parser`, which builds requirements with `portico.model.selectors`).
A parse failure is 400 BadRequest with the parser's `err.Error()`, e.g. `found '=',
expected: ',' or 'end of string'`.

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

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from portico.apiserver.errors import bad_request
from portico.model.label_parser import parse_label_selector_text
from portico.model.selectors import (
    LabelSelector,
    Operator,
    SelectorError,
    selector_from_label_selector_object,
)
from portico.model.validation import go_quote

__all__ = [
    "FieldSelector",
    "LabelSelector",
    "parse_field_selector",
    "parse_label_selector",
    "selector_from_label_selector_object",
]


def parse_label_selector(text: str) -> LabelSelector:
    """`labels.Parse` for the `labelSelector` parameter; 400 BadRequest on invalid input."""
    try:
        return parse_label_selector_text(text)
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
