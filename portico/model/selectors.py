"""Label selectors, as apimachinery's `pkg/labels` parses, validates and matches them.

Theory of operation
-------------------
A label selector is an AND of `Requirement`s (key, operator, values). Text such as
`app=web,tier in (a,b),!legacy` is turned into requirements by
`portico.model.label_parser` (upstream `labels.Parse`), whose error strings are
upstream's word for word (the API server returns them as 400 BadRequest).

Each requirement is built by `new_requirement` (upstream `NewRequirement`), which
validates the key as a qualified name and the values as label values and reports
every problem as `field.Error` strings, aggregated as `utilerrors.Aggregate` does.

Nil and empty, as upstream (each kind of caller has its own entry point):

* a workload's `LabelSelector` (Deployment, ReplicaSet, PDB, NetworkPolicy ...):
  `selector_from_label_selector_object` / `label_selector_matches` are
  `metav1.LabelSelectorAsSelector`: `None` selects nothing, `{}` selects everything;
* a Service's `spec.selector` map: `service_selector`, nil or empty selects nothing
  (the Service has no managed endpoints); a plain map elsewhere (`nodeSelector`):
  `selector_from_set`, empty selects everything;
* node affinity's requirement lists: `selector_from_node_selector_requirements`,
  an empty list selects nothing (with `Gt`/`Lt` on integers);
* the `?labelSelector=` text: `label_parser.parse_label_selector_text`, empty text
  selects everything. Everything here is pure; errors are
`SelectorError` (a `ValueError`) carrying upstream's message. The text parser lives
in `portico.apiserver.selectors` (it is only reached from query parameters).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from portico.model.validation import go_quote, is_qualified_name, is_valid_label_value
from portico.model.vocabulary import LabelSelectorOperator, NodeSelectorOperator

__all__ = [
    "LabelSelector",
    "Operator",
    "Requirement",
    "SelectorError",
    "everything",
    "format_label_selector",
    "label_selector_matches",
    "new_requirement",
    "nothing",
    "selector_from_label_selector_object",
    "selector_from_node_selector_requirements",
    "selector_from_requirements",
    "selector_from_set",
    "service_selector",
]


class SelectorError(ValueError):
    """A selector that upstream would reject; `str(err)` is upstream's `err.Error()`."""


class Operator(enum.StrEnum):
    """`selection.Operator`."""

    DOES_NOT_EXIST = "!"
    EQUALS = "="
    DOUBLE_EQUALS = "=="
    IN = "in"
    NOT_EQUALS = "!="
    NOT_IN = "notin"
    EXISTS = "exists"
    GREATER_THAN = "gt"
    LESS_THAN = "lt"


BINARY_OPERATORS: tuple[Operator, ...] = (
    Operator.IN, Operator.NOT_IN, Operator.EQUALS, Operator.DOUBLE_EQUALS,
    Operator.NOT_EQUALS, Operator.GREATER_THAN, Operator.LESS_THAN,
)

_INT64_RE = re.compile(r"^[+-]?[0-9]+$")


def _go_string_slice(values: Sequence[str] | None) -> str:
    if values is None:
        return "[]string(nil)"
    return "[]string{" + ", ".join(go_quote(v) for v in values) + "}"


def _invalid(path: str, value: str, detail: str) -> str:
    """`field.Invalid(path, value, detail).Error()`; `value` is already rendered."""
    return f"{path}: Invalid value: {value}: {detail}"


def _aggregate(messages: list[str]) -> str:
    """`field.ErrorList.ToAggregate().Error()`: de-duplicated, bracketed when several."""
    unique = list(dict.fromkeys(messages))
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"


def _parse_int64(text: str) -> int | None:
    """`strconv.ParseInt(text, 10, 64)`, or None where Go returns an error."""
    if not _INT64_RE.fullmatch(text):
        return None
    number = int(text)
    return number if -(2**63) <= number < 2**63 else None


# --- requirements and selectors --------------------------------------------------------------


@dataclass(frozen=True)
class Requirement:
    """`labels.Requirement`: one key, one operator, its values (kept in the given order)."""

    key: str
    operator: Operator
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        op = self.operator
        if op in (Operator.IN, Operator.EQUALS, Operator.DOUBLE_EQUALS):
            return self.key in labels and labels[self.key] in self.values
        if op in (Operator.NOT_IN, Operator.NOT_EQUALS):
            return self.key not in labels or labels[self.key] not in self.values
        if op is Operator.EXISTS:
            return self.key in labels
        if op is Operator.DOES_NOT_EXIST:
            return self.key not in labels
        if self.key not in labels or len(self.values) != 1:
            return False
        have, want = _parse_int64(labels[self.key]), _parse_int64(self.values[0])
        if have is None or want is None:
            return False
        return have > want if op is Operator.GREATER_THAN else have < want

    def __str__(self) -> str:
        op = self.operator
        head = ("!" if op is Operator.DOES_NOT_EXIST else "") + self.key
        if op in (Operator.EXISTS, Operator.DOES_NOT_EXIST):
            return head
        symbol = {Operator.IN: " in ", Operator.NOT_IN: " notin ",
                  Operator.GREATER_THAN: ">", Operator.LESS_THAN: "<"}.get(op, op.value)
        joined = self.values[0] if len(self.values) == 1 else ",".join(sorted(self.values))
        if op in (Operator.IN, Operator.NOT_IN):
            joined = f"({joined})"
        return head + symbol + joined


def new_requirement(
    key: str, operator: Operator, values: Sequence[str] | None, path: str | None = None,
) -> Requirement:
    """`labels.NewRequirement`: validate and build, or raise `SelectorError` (aggregated)."""
    errs: list[str] = []
    key_path = f"{path}.key" if path else "key"
    values_path = f"{path}.values" if path else "values"
    key_problems = is_qualified_name(key)
    if key_problems:
        errs.append(_invalid(key_path, go_quote(key), "; ".join(key_problems)))
    vals = list(values or ())
    rendered = _go_string_slice(None if values is None else vals)
    if operator in (Operator.IN, Operator.NOT_IN) and not vals:
        errs.append(_invalid(values_path, rendered,
                             "for 'in', 'notin' operators, values set can't be empty"))
    elif operator in (Operator.EQUALS, Operator.DOUBLE_EQUALS, Operator.NOT_EQUALS):
        if len(vals) != 1:
            errs.append(_invalid(values_path, rendered,
                                 "exact-match compatibility requires one single value"))
    elif operator in (Operator.EXISTS, Operator.DOES_NOT_EXIST) and vals:
        errs.append(_invalid(values_path, rendered,
                             "values set must be empty for exists and does not exist"))
    elif operator in (Operator.GREATER_THAN, Operator.LESS_THAN):
        if len(vals) != 1:
            errs.append(_invalid(values_path, rendered,
                                 "for 'Gt', 'Lt' operators, exactly one value is required"))
        for i, value in enumerate(vals):
            if _parse_int64(value) is None:
                errs.append(_invalid(f"{values_path}[{i}]", go_quote(value),
                                     "for 'Gt', 'Lt' operators, the value must be an integer"))
    for i, value in enumerate(vals):
        problems = is_valid_label_value(value)
        if problems:
            errs.append(_invalid(f"{values_path}[{i}][{key}]", go_quote(value),
                                 "; ".join(problems)))
    if errs:
        raise SelectorError(_aggregate(errs))
    return Requirement(key, operator, tuple(vals))


@dataclass(frozen=True)
class LabelSelector:
    """Immutable parsed selector: an AND of requirements, or (`selects_nothing`) nothing."""

    requirements: tuple[Requirement, ...] = ()
    selects_nothing: bool = False

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        if self.selects_nothing:
            return False
        present = labels or {}
        return all(r.matches(present) for r in self.requirements)

    def empty(self) -> bool:
        """True when the selector does not restrict anything (upstream `Empty`)."""
        return not self.selects_nothing and not self.requirements

    def requires_exact_match(self, label: str) -> str | None:
        """The single value `label` must have, if the selector pins it (`RequiresExactMatch`)."""
        for r in self.requirements:
            if r.key == label:
                exact = (Operator.EQUALS, Operator.DOUBLE_EQUALS, Operator.IN)
                if r.operator in exact and len(r.values) == 1:
                    return r.values[0]
                return None
        return None

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def everything() -> LabelSelector:
    return LabelSelector()


def nothing() -> LabelSelector:
    return LabelSelector(selects_nothing=True)


def selector_from_set(labels: Mapping[str, str] | None) -> LabelSelector:
    """`labels.SelectorFromSet` (no validation): key=value for each entry; empty = everything."""
    pairs = (labels or {}).items()
    return selector_from_requirements([Requirement(k, Operator.EQUALS, (v,)) for k, v in pairs])


_LABEL_SELECTOR_OPERATORS: dict[str, Operator] = {
    LabelSelectorOperator.IN: Operator.IN, LabelSelectorOperator.NOT_IN: Operator.NOT_IN,
    LabelSelectorOperator.EXISTS: Operator.EXISTS,
    LabelSelectorOperator.DOES_NOT_EXIST: Operator.DOES_NOT_EXIST,
}
_NODE_SELECTOR_OPERATORS: dict[str, Operator] = {
    NodeSelectorOperator.IN: Operator.IN, NodeSelectorOperator.NOT_IN: Operator.NOT_IN,
    NodeSelectorOperator.EXISTS: Operator.EXISTS,
    NodeSelectorOperator.DOES_NOT_EXIST: Operator.DOES_NOT_EXIST,
    NodeSelectorOperator.GT: Operator.GREATER_THAN, NodeSelectorOperator.LT: Operator.LESS_THAN,
}


def selector_from_label_selector_object(obj: Mapping[str, object] | None) -> LabelSelector:
    """`metav1.LabelSelectorAsSelector`; raises `SelectorError` on an invalid selector."""
    if obj is None:
        return nothing()
    match_labels: Mapping[str, str] = obj.get("matchLabels") or {}  # type: ignore[assignment]
    expressions: list[Mapping[str, object]] = obj.get("matchExpressions") or []  # type: ignore[assignment]
    if not match_labels and not expressions:
        return everything()
    reqs = [new_requirement(k, Operator.EQUALS, [v]) for k, v in match_labels.items()]
    reqs.extend(_expression_requirements(expressions, _LABEL_SELECTOR_OPERATORS,
                                         "is not a valid label selector operator"))
    return selector_from_requirements(reqs)


def selector_from_node_selector_requirements(
    expressions: Sequence[Mapping[str, object]] | None,
) -> LabelSelector:
    """`nodeSelectorRequirementsAsSelector` (node affinity): an empty list selects nothing."""
    if not expressions:
        return nothing()
    return selector_from_requirements(_expression_requirements(
        expressions, _NODE_SELECTOR_OPERATORS, "is not a valid node selector operator"))


def _expression_requirements(
    expressions: Sequence[Mapping[str, object]], operators: Mapping[str, Operator], problem: str,
) -> list[Requirement]:
    reqs = []
    for expr in expressions:
        name = str(expr.get("operator", ""))
        if name not in operators:
            raise SelectorError(f"{go_quote(name)} {problem}")
        values = expr.get("values")
        reqs.append(new_requirement(str(expr.get("key", "")), operators[name],
                                    list(values) if isinstance(values, list) and values else None))
    return reqs


def label_selector_matches(
    selector: Mapping[str, object] | None, labels: Mapping[str, str] | None,
) -> bool:
    """`LabelSelectorAsSelector(selector).Matches(labels)` for a workload's `LabelSelector`.

    nil selects nothing and `{}` everything (Deployments, ReplicaSets, PDBs,
    NetworkPolicies ...); an invalid selector selects nothing, as upstream's callers
    skip an object whose selector fails to convert.
    """
    try:
        return selector_from_label_selector_object(selector).matches(labels)
    except SelectorError:
        return False


def service_selector(selector: Mapping[str, str] | None) -> LabelSelector:
    """A Service's `spec.selector` map: nil or empty selects nothing (no managed endpoints)."""
    return selector_from_set(selector) if selector else nothing()


def format_label_selector(selector: Mapping[str, object] | None) -> str:
    """`metav1.FormatLabelSelector`: `app=web,tier in (a,b)`; `<none>` when it selects
    everything or nothing, `<error>` when it is invalid."""
    try:
        return str(selector_from_label_selector_object(selector)) or "<none>"
    except SelectorError:
        return "<error>"


def selector_from_requirements(requirements: Sequence[Requirement]) -> LabelSelector:
    """An AND of already-built requirements, ordered by key as upstream sorts them."""
    return LabelSelector(tuple(sorted(requirements, key=lambda r: r.key)))
